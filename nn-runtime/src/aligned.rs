//! Buffers of `f32` that start on a cache line.

use std::fmt;
use std::ops::{Deref, DerefMut};

/// One cache line of floats: the unit of [`AlignedVec`]'s storage, whose alignment it gives.
#[derive(Clone, Copy, PartialEq)]
#[repr(C, align(64))]
struct Line([f32; 16]);

/// A buffer of `f32` that starts on a 64-byte boundary: what layers, optimizers and the
/// buffers of generated networks keep their numbers in. It dereferences to `[f32]`.
///
/// The allocator only promises 16 bytes for a `Vec<f32>`. Parameters, gradients and optimizer
/// state are read and written a whole vector register at a time, and an AVX-512 register that
/// straddles two cache lines costs two accesses: how the allocations happened to fall moved a
/// training step's time by a third from one run to the next.
#[derive(Clone, Default)]
pub struct AlignedVec {
    lines: Vec<Line>,
    len: usize,
}

impl AlignedVec {
    /// `len` zeros.
    ///
    /// # Panics
    /// If `len` floats would exceed `isize::MAX` bytes, as `Vec::with_capacity` does.
    pub fn zeros(len: usize) -> Self {
        AlignedVec {
            lines: vec![Line([0.0; 16]); len.div_ceil(16)],
            len,
        }
    }
}

impl AlignedVec {
    /// Sets the length to `len`, as `Vec::resize(len, 0.0)`: new elements are zero. Memory is
    /// kept when it shrinks, so growing back to a size seen before allocates nothing.
    ///
    /// # Panics
    /// If `len` floats would exceed `isize::MAX` bytes, as `Vec::resize` does; the buffer is
    /// left as it was.
    pub fn resize(&mut self, len: usize) {
        let lines = len.div_ceil(16);
        if lines > self.lines.len() {
            self.lines.resize(lines, Line([0.0; 16]));
        }
        let old = self.len;
        self.len = len;
        if len > old {
            self[old..].fill(0.0);
        }
    }
}

impl Deref for AlignedVec {
    type Target = [f32];

    fn deref(&self) -> &[f32] {
        // SAFETY: `Line` is `repr(C)` over `[f32; 16]`, so the lines are `16·lines.len()`
        // contiguous, initialised floats, and `zeros` and `resize` (the only writers of `len`)
        // keep `len ≤ 16·lines.len()`: `len.div_ceil(16)` lines, which cannot overflow. The
        // `Vec` of lines holds at most `isize::MAX` bytes (it panics on a larger capacity), so
        // the slice does too.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast(), self.len) }
    }
}

impl DerefMut for AlignedVec {
    fn deref_mut(&mut self) -> &mut [f32] {
        // SAFETY: as in `deref`, and `&mut self` makes the borrow unique.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast(), self.len) }
    }
}

impl FromIterator<f32> for AlignedVec {
    fn from_iter<I: IntoIterator<Item = f32>>(values: I) -> Self {
        let values: Vec<f32> = values.into_iter().collect();
        let mut aligned = AlignedVec::zeros(values.len());
        aligned.copy_from_slice(&values);
        aligned
    }
}

impl PartialEq for AlignedVec {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl fmt::Debug for AlignedVec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_on_a_cache_line_and_holds_what_it_was_given() {
        for len in [0, 1, 15, 16, 17, 1000] {
            let v: AlignedVec = (0..len).map(|i| i as f32).collect();
            assert_eq!(v.as_ptr() as usize % 64, 0);
            assert_eq!(&*v, &(0..len).map(|i| i as f32).collect::<Vec<_>>()[..]);
        }
        assert_eq!(AlignedVec::zeros(5), [0.0; 5].into_iter().collect());
    }

    #[test]
    #[should_panic(expected = "capacity overflow")]
    fn a_length_past_the_address_space_panics() {
        let _ = AlignedVec::zeros(usize::MAX);
    }

    #[test]
    fn resizing_past_the_address_space_panics_and_keeps_the_buffer() {
        let mut v: AlignedVec = [1.0; 3].into_iter().collect();
        for len in [usize::MAX, usize::MAX / 4 + 1] {
            let grown = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| v.resize(len)));
            assert!(grown.is_err());
            assert_eq!(&*v, &[1.0; 3]);
        }
    }

    #[test]
    fn resizing_zeroes_what_it_adds_and_keeps_its_memory() {
        let mut v: AlignedVec = [1.0; 40].into_iter().collect();
        let pointer = v.as_ptr();
        v.resize(3);
        assert_eq!(&*v, &[1.0; 3]);
        v.resize(33);
        assert_eq!((&v[..3], &v[3..]), (&[1.0; 3][..], &[0.0; 30][..]));
        assert_eq!(v.as_ptr(), pointer);
    }
}
