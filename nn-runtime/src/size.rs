//! Sizes of row-major buffers, checked before anything is allocated or indexed.

use crate::error::{Error, Result};

/// The most `f32` values one buffer can hold: Rust allows no allocation above `isize::MAX`
/// bytes.
const MAX_VALUES: usize = isize::MAX as usize / std::mem::size_of::<f32>();

/// The number of values in `rows` rows of `width`, if a buffer of them can exist.
///
/// A zero width counts as one, so that the row count alone stays below the same bound (an
/// `ndarray` view of such rows needs it).
///
/// # Errors
/// [`Error::TooLarge`] when `rows × width` values overflow the address space.
pub(crate) fn checked_values(rows: usize, width: usize) -> Result<usize> {
    match rows.checked_mul(width.max(1)) {
        Some(bound) if bound <= MAX_VALUES => Ok(rows * width),
        _ => Err(Error::TooLarge { rows, width }),
    }
}

/// As [`checked_values`], for callers whose contract is to panic.
///
/// # Panics
/// With [`Error::TooLarge`]'s message when `rows × width` values overflow the address space.
#[track_caller]
pub(crate) fn values(rows: usize, width: usize) -> usize {
    checked_values(rows, width).unwrap_or_else(|error| panic!("{error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_that_overflow_are_errors() {
        assert_eq!(checked_values(3, 4), Ok(12));
        assert_eq!(checked_values(5, 0), Ok(0));
        assert_eq!(checked_values(MAX_VALUES, 1), Ok(MAX_VALUES));
        for (rows, width) in [
            (1 << 62, 4),
            (1 << 63, 2),
            (usize::MAX, 0),
            (MAX_VALUES + 1, 1),
            (2, MAX_VALUES),
        ] {
            assert_eq!(
                checked_values(rows, width),
                Err(Error::TooLarge { rows, width })
            );
        }
    }

    #[test]
    #[should_panic(expected = "4611686018427387904 rows × 4 features overflow the address space")]
    fn values_panics_with_the_error_message() {
        values(1 << 62, 4);
    }
}
