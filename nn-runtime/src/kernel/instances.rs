//! The passes of [`passes`](super::passes) compiled for each instruction set: AVX-512,
//! AVX2 + FMA (x86-64 only) and plain Rust, each in a module of its own whose functions carry
//! the `#[target_feature]` attributes.

use std::sync::atomic::AtomicUsize;

use super::gemm::{self, Gemm};
use super::passes::{self, DotForward, Products, RowsDone};
use super::vector::{self, Portable};
use super::{reserve, ForwardOperands, InputGradOperands, WeightGradOperands};
use crate::activation::{Builtin, RowActivation};

/// The three passes compiled for one instruction set: `$S` vectors, `$mr × $nv·LANES` tiles
/// (`$mr1 × LANES` for a forward pass with at most `LANES` outputs), each function with the
/// attributes `$attr` (the instruction set to compile for).
///
/// Every function has the contract of the pass or product it wraps, and in addition the CPU
/// supports the instruction set of `$attr`.
macro_rules! instantiate {
    (
        $(#[$cfg:meta])*
        mod $name:ident: $S:ty, $mr:literal, $nv:literal, $mr1:literal,
        $(#[$attr:meta])*
    ) => {
        $(#[$cfg])*
        pub(super) mod $name {
            use super::*;

            /// This thread's share of a product shared by two.
            ///
            /// # Safety
            /// As [`Gemm::shared`].
            $(#[$attr])*
            unsafe fn part<const MR: usize, const NV: usize>(
                g: &Gemm,
                scratch: &mut Vec<f32>,
                next: &AtomicUsize,
            ) {
                reserve(scratch, g.shared_scratch_needed::<$S, MR, NV>());
                // SAFETY: this function's contract, with the scratch space the product needs.
                unsafe { g.shared::<$S, MR, NV>(scratch, next) }
            }

            /// A product in `$mr × $nv·LANES` tiles.
            ///
            /// # Safety
            /// As [`Gemm::run`].
            $(#[$attr])*
            unsafe fn wide(g: &Gemm, scratch: &mut Vec<f32>, rows_done: RowsDone<'_>) {
                // SAFETY: this function's contract; `part` is `Gemm::shared` for these tiles.
                unsafe { g.run::<$S, $mr, $nv>(scratch, Some(part::<$mr, $nv>), rows_done) }
            }

            /// A product in `$mr1 × LANES` tiles.
            ///
            /// # Safety
            /// As [`Gemm::run`].
            $(#[$attr])*
            unsafe fn narrow(g: &Gemm, scratch: &mut Vec<f32>, rows_done: RowsDone<'_>) {
                // SAFETY: this function's contract; `part` is `Gemm::shared` for these tiles.
                unsafe { g.run::<$S, $mr1, 1>(scratch, Some(part::<$mr1, 1>), rows_done) }
            }

            /// [`gemm::dot_forward`] in the given shape.
            ///
            /// # Safety
            /// As [`gemm::dot_forward`].
            $(#[$attr])*
            unsafe fn dot(d: DotForward, rows_done: RowsDone<'_>) {
                let DotForward { dims, x, w, b, z, accumulate, shape } = d;
                // SAFETY: this function's contract; each shape has `R·NW == LANES`.
                unsafe {
                    match shape {
                        (1, 4) => gemm::dot_forward::<$S, 1, 4>(dims, x, w, b, z, accumulate, rows_done),
                        (2, 2) => gemm::dot_forward::<$S, 2, 2>(dims, x, w, b, z, accumulate, rows_done),
                        (1, 8) => gemm::dot_forward::<$S, 1, 8>(dims, x, w, b, z, accumulate, rows_done),
                        (2, 4) => gemm::dot_forward::<$S, 2, 4>(dims, x, w, b, z, accumulate, rows_done),
                        (4, 2) => gemm::dot_forward::<$S, 4, 2>(dims, x, w, b, z, accumulate, rows_done),
                        (1, 16) => gemm::dot_forward::<$S, 1, 16>(dims, x, w, b, z, accumulate, rows_done),
                        (2, 8) => gemm::dot_forward::<$S, 2, 8>(dims, x, w, b, z, accumulate, rows_done),
                        (4, 4) => gemm::dot_forward::<$S, 4, 4>(dims, x, w, b, z, accumulate, rows_done),
                        (8, 2) => gemm::dot_forward::<$S, 8, 2>(dims, x, w, b, z, accumulate, rows_done),
                        _ => unreachable!("no dot-product shape {shape:?}"),
                    }
                }
            }

            /// `z (+)= x·Wᵀ` as dot products, with no activation: the convolutions' weight
            /// gradients.
            ///
            /// # Safety
            /// As [`gemm::dot_forward`].
            $(#[$attr])*
            pub(in super::super) unsafe fn dots(d: DotForward, _scratch: &mut Vec<f32>) {
                // SAFETY: this function's contract.
                unsafe { dot(d, &mut |_, _| {}) }
            }

            /// `C (+)= A·B` alone, with no activation: the convolutions' products.
            ///
            /// # Safety
            /// As [`Gemm::run`].
            $(#[$attr])*
            pub(in super::super) unsafe fn product(g: Gemm, scratch: &mut Vec<f32>) {
                // SAFETY: this function's contract.
                unsafe { wide(&g, scratch, &mut |_, _| {}) }
            }

            const PRODUCTS: Products = Products { wide, narrow, dot };

            /// # Safety
            /// As [`passes::forward`].
            $(#[$attr])*
            pub(in super::super) unsafe fn forward<A: RowActivation>(
                p: ForwardOperands,
                act: &A,
                scratch: &mut Vec<f32>,
            ) {
                // The closure is written here so that it is compiled for this instruction set.
                let mut rows_done = |first, end| {
                    // SAFETY: the product calls this once per block of final rows
                    // (`first ≤ end ≤ rows`) and no longer writes them.
                    unsafe { passes::activate_rows(p, act, first, end) }
                };
                let relu = A::BUILTIN == Builtin::ReLU;
                // SAFETY: this function's contract; `PRODUCTS` are compiled for `$S`.
                unsafe { passes::forward::<$S>(p, relu, scratch, PRODUCTS, &mut rows_done) }
            }

            /// # Safety
            /// As [`passes::weight_grad`].
            $(#[$attr])*
            pub(in super::super) unsafe fn weight_grad(
                p: WeightGradOperands,
                scratch: &mut Vec<f32>,
            ) {
                // SAFETY: this function's contract; `PRODUCTS` are compiled for `$S`.
                unsafe { passes::weight_grad::<$S>(p, scratch, PRODUCTS) }
            }

            /// # Safety
            /// As [`passes::input_grad`].
            $(#[$attr])*
            pub(in super::super) unsafe fn input_grad<A: RowActivation>(
                p: InputGradOperands,
                act: &A,
                scratch: &mut Vec<f32>,
            ) {
                let mut rows_done = |first, end| {
                    // SAFETY: the product calls this once per block of final rows
                    // (`first ≤ end ≤ rows`) and no longer writes them.
                    unsafe { passes::derive_rows(p, act, first, end) }
                };
                let relu = A::BUILTIN == Builtin::ReLU;
                // SAFETY: this function's contract; `PRODUCTS` are compiled for `$S`.
                unsafe { passes::input_grad(p, relu, scratch, PRODUCTS, &mut rows_done) }
            }
        }
    };
}

instantiate! {
    #[cfg(target_arch = "x86_64")]
    mod avx512: vector::Avx512, 12, 2, 16,
    #[target_feature(enable = "avx512f,avx2,fma")]
}

instantiate! {
    #[cfg(target_arch = "x86_64")]
    mod avx2: vector::Avx2, 6, 2, 8,
    #[target_feature(enable = "avx2,fma")]
}

instantiate! {
    mod portable: Portable, 4, 2, 4,
}
