//! Row counts whose sizes overflow the address space: refused with an error where a
//! constructor returns one, or a panic with a plain message, never a wrapped length that a
//! kernel would then read past.
#![deny(warnings)]

// The raw-slice passes that generated code calls, reached as generated code reaches them.
use nn::__private_0_1::LinearPasses;
use nn::prelude::*;

network! {
    struct Small { Linear(4, 8) -> ReLU -> Linear(8, 2) }
}

/// `rows × 4` features wrap to 0 values in 64-bit arithmetic.
const WRAPS_TO_ZERO: usize = 1 << 62;

#[test]
fn a_batch_whose_size_overflows_is_an_error() {
    let error = Batch::<4>::from_vec(WRAPS_TO_ZERO, vec![]).unwrap_err();
    assert_eq!(
        error,
        Error::TooLarge {
            rows: WRAPS_TO_ZERO,
            width: 4
        }
    );
    assert_eq!(
        error.to_string(),
        "4611686018427387904 rows × 4 features overflow the address space"
    );
    assert!(matches!(
        Batch::<4>::try_zeros(WRAPS_TO_ZERO),
        Err(Error::TooLarge { .. })
    ));
    // A batch that could be built still runs through a network.
    let x = Batch::<4>::try_zeros(3).unwrap();
    assert_eq!(Small::seeded(0).forward(&x).rows(), 3);
}

#[test]
#[should_panic(expected = "4611686018427387904 rows × 4 features overflow the address space")]
fn zeros_panics_when_the_size_overflows() {
    let _ = Batch::<4>::zeros(WRAPS_TO_ZERO);
}

#[test]
#[should_panic(expected = "4611686018427387904 rows × 4 features overflow the address space")]
fn a_layer_refuses_a_row_count_that_overflows() {
    Linear::<4, 2>::zeros().forward_into(WRAPS_TO_ZERO, &[], &mut []);
}

#[test]
#[should_panic(expected = "9223372036854775808 rows × 4 features overflow the address space")]
fn a_layer_refuses_a_row_count_that_wraps_both_sizes() {
    // 2⁶³ rows: the input (× 4) and the output (× 2) both wrap to 0 values.
    let mut out = Batch::<2>::zeros(0);
    Linear::<4, 2>::zeros().forward_into(1 << 63, &[], out.as_mut_slice());
}

#[test]
#[should_panic(expected = "overflow the address space")]
fn an_output_batch_refuses_a_row_count_that_overflows() {
    Batch::<2>::zeros(1).set_rows(1 << 63);
}
