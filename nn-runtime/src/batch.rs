//! Typed batches: rows of a statically known width, and class-index labels.

use ndarray::{Array2, ArrayView2, ArrayViewMut2};
use rand::{Rng, SeedableRng};

use crate::aligned::AlignedVec;
use crate::error::{Error, Result};
use crate::size;

/// A batch of rows, each with exactly `F` features, stored row-major as `f32`.
///
/// The width `F` is part of the type, so a model that takes 64 features does not accept a
/// `Batch<32>`; the number of rows is chosen at run time. All numbers in `nn` are `f32`, as in
/// PyTorch's default dtype.
///
/// ```
/// use nn_runtime::Batch;
///
/// let batch = Batch::<3>::from_vec(2, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?;
/// assert_eq!(batch.rows(), 2);
/// assert_eq!(batch.row(1), &[4.0, 5.0, 6.0]);
/// assert!(Batch::<3>::from_vec(2, vec![1.0; 5]).is_err());
/// # Ok::<(), nn_runtime::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Batch<const F: usize> {
    rows: usize,
    data: AlignedVec,
}

impl<const F: usize> Batch<F> {
    /// The number of features per row.
    pub const WIDTH: usize = F;

    /// A batch of `rows` rows of zeros.
    ///
    /// # Panics
    /// If `rows × F` values overflow the address space, as `Vec::with_capacity` does (with
    /// [`Error::TooLarge`]'s message). [`try_zeros`](Self::try_zeros) returns the error instead.
    #[track_caller]
    pub fn zeros(rows: usize) -> Self {
        Self::try_zeros(rows).unwrap_or_else(|error| panic!("{error}"))
    }

    /// A batch of `rows` rows of zeros, or an error if there cannot be that many.
    ///
    /// ```
    /// use nn_runtime::{Batch, Error};
    ///
    /// assert_eq!(Batch::<4>::try_zeros(2)?.as_slice(), &[0.0; 8]);
    /// assert!(matches!(Batch::<4>::try_zeros(1 << 62), Err(Error::TooLarge { .. })));
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::TooLarge`] when `rows × F` values overflow the address space.
    pub fn try_zeros(rows: usize) -> Result<Self> {
        let len = size::checked_values(rows, F)?;
        Ok(Batch {
            rows,
            data: AlignedVec::zeros(len),
        })
    }

    /// A batch from row-major data.
    ///
    /// # Errors
    /// [`Error::TooLarge`] when `rows × F` values overflow the address space;
    /// [`Error::Length`] when `data.len()` is not `rows × F`.
    pub fn from_vec(rows: usize, data: Vec<f32>) -> Result<Self> {
        if data.len() != size::checked_values(rows, F)? {
            return Err(Error::Length {
                rows,
                width: F,
                found: data.len(),
            });
        }
        Ok(Batch {
            rows,
            data: data.into_iter().collect(),
        })
    }

    /// A batch from an `ndarray` matrix of shape `[rows, F]`, in any memory order.
    ///
    /// # Errors
    /// [`Error::Width`] when the matrix does not have `F` columns; [`Error::TooLarge`] when
    /// `F` is 0 and it has more rows than a batch can count.
    pub fn from_array(array: ArrayView2<'_, f32>) -> Result<Self> {
        let (rows, cols) = array.dim();
        if cols != F {
            return Err(Error::Width {
                expected: F,
                found: cols,
            });
        }
        // An array's length cannot overflow; a zero-width one's row count still can.
        size::checked_values(rows, F)?;
        Ok(Batch {
            rows,
            data: array.iter().copied().collect(),
        })
    }

    /// A batch from fixed-size rows; the width is checked by the type system.
    ///
    /// # Panics
    /// If `F` is 0 and there are more rows than a batch can count (with
    /// [`Error::TooLarge`]'s message).
    #[track_caller]
    pub fn from_rows(rows: &[[f32; F]]) -> Self {
        // The rows exist, so only a zero width can make their count too large.
        size::values(rows.len(), F);
        Batch {
            rows: rows.len(),
            data: rows.iter().flatten().copied().collect(),
        }
    }

    /// A batch of values drawn uniformly from `[0, 1)` (like `torch.rand`), reproducible by `seed`.
    ///
    /// # Panics
    /// If `rows × F` values overflow the address space, as [`zeros`](Self::zeros).
    #[track_caller]
    pub fn random(rows: usize, seed: u64) -> Self {
        let len = size::values(rows, F);
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        Batch {
            rows,
            data: (0..len).map(|_| rng.gen::<f32>()).collect(),
        }
    }

    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Whether the batch has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Row `index` as a slice of `F` values, or `None` past the end.
    pub fn get_row(&self, index: usize) -> Option<&[f32]> {
        if index >= self.rows {
            return None;
        }
        // Below `rows`, so `(index + 1) × F` is within the data's length.
        self.data.get(index * F..(index + 1) * F)
    }

    /// Row `index` as a slice of `F` values.
    ///
    /// # Panics
    /// If `index >= self.rows()`.
    #[track_caller]
    pub fn row(&self, index: usize) -> &[f32] {
        match self.get_row(index) {
            Some(row) => row,
            None => panic!(
                "row index {index} is out of range for a batch of {} rows",
                self.rows
            ),
        }
    }

    /// The rows as fixed-size arrays.
    pub fn iter_rows(&self) -> impl Iterator<Item = &[f32]> + '_ {
        // `max(1)` keeps `chunks_exact` valid for a zero-width batch.
        self.data.chunks_exact(F.max(1)).take(self.rows)
    }

    /// All values, row-major.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// All values, row-major, for writing.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// A copy of all values, row-major.
    pub fn to_vec(&self) -> Vec<f32> {
        self.data.to_vec()
    }

    /// The values as an `ndarray` view of shape `[rows, F]`.
    pub fn view(&self) -> ArrayView2<'_, f32> {
        ArrayView2::from_shape((self.rows, F), &self.data[..]).expect("length is rows × F")
    }

    /// The values as a mutable `ndarray` view of shape `[rows, F]`.
    pub fn view_mut(&mut self) -> ArrayViewMut2<'_, f32> {
        ArrayViewMut2::from_shape((self.rows, F), &mut self.data[..]).expect("length is rows × F")
    }

    /// The values as an owned `ndarray` matrix of shape `[rows, F]`.
    pub fn into_array(self) -> Array2<f32> {
        Array2::from_shape_vec((self.rows, F), self.data.to_vec()).expect("length is rows × F")
    }

    /// Changes the number of rows, keeping the allocation when it is large enough.
    ///
    /// New values are zero. Used by inference into a caller's buffer, so that a warm buffer
    /// never reallocates.
    ///
    /// # Panics
    /// If `rows × F` values overflow the address space, as [`zeros`](Self::zeros); the batch
    /// is left as it was.
    #[track_caller]
    pub fn set_rows(&mut self, rows: usize) {
        self.data.resize(size::values(rows, F));
        self.rows = rows;
    }

    /// Copies the rows at `indices` into `out` (which takes `indices.len()` rows).
    ///
    /// # Panics
    /// If an index is not below [`rows`](Self::rows), as [`row`](Self::row).
    #[track_caller]
    pub fn gather_into(&self, indices: &[usize], out: &mut Self) {
        out.set_rows(indices.len());
        for (dst, &i) in out.data.chunks_exact_mut(F.max(1)).zip(indices) {
            dst.copy_from_slice(self.row(i));
        }
    }

    /// The rows at `indices`, in that order: a split or a shuffle of a data set.
    ///
    /// ```
    /// use nn_runtime::Batch;
    /// let x = Batch::<2>::from_vec(3, vec![0.0, 0.5, 1.0, 1.5, 2.0, 2.5])?;
    /// assert_eq!(x.select(&[2, 0]).as_slice(), &[2.0, 2.5, 0.0, 0.5]);
    /// # Ok::<(), nn_runtime::Error>(())
    /// ```
    ///
    /// # Panics
    /// If an index is not below [`rows`](Self::rows).
    #[track_caller]
    pub fn select(&self, indices: &[usize]) -> Self {
        let mut out = Batch::zeros(0);
        self.gather_into(indices, &mut out);
        out
    }
}

/// Class indices for classification losses, each below `classes`.
///
/// ```
/// use nn_runtime::Labels;
///
/// let labels = Labels::new(vec![0, 2, 1], 3)?;
/// assert_eq!(labels.len(), 3);
/// assert!(Labels::new(vec![0, 3], 3).is_err());
/// # Ok::<(), nn_runtime::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    indices: Vec<usize>,
    classes: usize,
}

impl Labels {
    /// Labels from class indices.
    ///
    /// # Errors
    /// [`Error::LabelOutOfRange`] when an index is not below `classes`.
    pub fn new(indices: Vec<usize>, classes: usize) -> Result<Self> {
        if let Some((position, &label)) = indices.iter().enumerate().find(|(_, &l)| l >= classes) {
            return Err(Error::LabelOutOfRange {
                position,
                label,
                classes,
            });
        }
        Ok(Labels { indices, classes })
    }

    /// The class indices.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }

    /// The number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The number of labels (rows).
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// Whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// Copies the labels at `indices` into `out`, reusing its allocation.
    pub fn gather_into(&self, indices: &[usize], out: &mut Self) {
        out.classes = self.classes;
        out.indices.clear();
        out.indices.extend(indices.iter().map(|&i| self.indices[i]));
    }

    /// The labels at `indices`, in that order, as [`Batch::select`].
    ///
    /// # Panics
    /// If an index is not below [`len`](Self::len).
    #[track_caller]
    pub fn select(&self, indices: &[usize]) -> Self {
        let mut out = Labels {
            indices: Vec::with_capacity(indices.len()),
            classes: self.classes,
        };
        self.gather_into(indices, &mut out);
        out
    }

    /// Random labels, reproducible by `seed`.
    ///
    /// # Panics
    /// If `classes` is 0 and `len` is not: no class index is below 0, as [`Labels::new`] would
    /// say.
    pub fn random(len: usize, classes: usize, seed: u64) -> Self {
        assert!(
            classes > 0 || len == 0,
            "Labels::random: {len} labels need at least one class, found 0 classes"
        );
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        Labels {
            indices: (0..len).map(|_| rng.gen_range(0..classes)).collect(),
            classes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_check_their_input() {
        assert_eq!(
            Batch::<4>::from_vec(2, vec![0.0; 7]),
            Err(Error::Length {
                rows: 2,
                width: 4,
                found: 7
            })
        );
        let wrong = Array2::<f32>::zeros((3, 5));
        assert_eq!(
            Batch::<4>::from_array(wrong.view()),
            Err(Error::Width {
                expected: 4,
                found: 5
            })
        );
        let transposed = Array2::from_shape_fn((2, 3), |(r, c)| (r * 3 + c) as f32);
        let batch = Batch::<2>::from_array(transposed.t()).unwrap();
        assert_eq!(batch.to_vec(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        assert_eq!(
            Batch::from_rows(&[[1.0, 2.0], [3.0, 4.0]]).view(),
            ndarray::arr2(&[[1.0, 2.0], [3.0, 4.0]])
        );
    }

    #[test]
    fn sizes_that_overflow_are_errors_not_wrapped_lengths() {
        // 2⁶² rows × 4 features wrap to 0 values: an empty vector would have matched.
        let too_large = Error::TooLarge {
            rows: 1 << 62,
            width: 4,
        };
        assert_eq!(
            Batch::<4>::from_vec(1 << 62, vec![]),
            Err(too_large.clone())
        );
        assert_eq!(Batch::<4>::try_zeros(1 << 62), Err(too_large.clone()));
        assert_eq!(
            too_large.to_string(),
            "4611686018427387904 rows × 4 features overflow the address space"
        );
        // Rows of no features count nothing, but their number is still bounded.
        let rows = isize::MAX as usize;
        let tall = ArrayView2::<f32>::from_shape((rows, 0), &[]).unwrap();
        assert_eq!(
            Batch::<0>::from_array(tall),
            Err(Error::TooLarge { rows, width: 0 })
        );
        assert_eq!(
            Batch::<0>::from_vec(usize::MAX, vec![]),
            Err(Error::TooLarge {
                rows: usize::MAX,
                width: 0
            })
        );
        assert_eq!(Batch::<0>::try_zeros(1000).map(|b| b.rows()), Ok(1000));
    }

    #[test]
    #[should_panic(expected = "4611686018427387904 rows × 4 features overflow the address space")]
    fn zeros_panics_when_the_size_overflows() {
        let _ = Batch::<4>::zeros(1 << 62);
    }

    #[test]
    #[should_panic(expected = "rows × 4 features overflow the address space")]
    fn random_panics_when_the_size_overflows() {
        let _ = Batch::<4>::random(1 << 62, 0);
    }

    #[test]
    fn set_rows_refuses_a_size_that_overflows_and_keeps_the_batch() {
        let mut batch = Batch::<4>::from_rows(&[[1.0, 2.0, 3.0, 4.0]]);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            batch.set_rows(1 << 62);
        }));
        let message = result.unwrap_err();
        let message = message.downcast_ref::<String>().unwrap();
        assert!(message.ends_with("overflow the address space"), "{message}");
        assert_eq!(
            (batch.rows(), batch.to_vec()),
            (1, vec![1.0, 2.0, 3.0, 4.0])
        );
    }

    #[test]
    fn rows_past_the_end_are_none_even_where_the_offset_wraps() {
        let batch = Batch::<4>::from_rows(&[[1.0; 4], [2.0; 4]]);
        assert_eq!(batch.get_row(1), Some(&[2.0; 4][..]));
        assert_eq!(batch.get_row(2), None);
        // (2⁶² + 1)·4 wraps to 4, the offset of row 1.
        assert_eq!(batch.get_row((1 << 62) + 1), None);
        assert_eq!(Batch::<0>::zeros(2).get_row(2), None);
    }

    #[test]
    #[should_panic(
        expected = "row index 4611686018427387905 is out of range for a batch of 2 rows"
    )]
    fn row_panics_past_the_end_even_where_the_offset_wraps() {
        let _ = Batch::<4>::zeros(2).row((1 << 62) + 1);
    }

    #[test]
    fn random_batches_are_reproducible_and_in_range() {
        let a = Batch::<8>::random(4, 7);
        assert_eq!(a, Batch::<8>::random(4, 7));
        assert!(a.as_slice().iter().all(|v| (0.0..1.0).contains(v)));
    }

    #[test]
    #[should_panic(expected = "4 labels need at least one class, found 0 classes")]
    fn random_labels_need_a_class() {
        let _ = Labels::random(4, 0, 1);
    }

    #[test]
    fn gathering_reuses_the_buffer() {
        let batch = Batch::<2>::from_rows(&[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]);
        let mut out = Batch::zeros(0);
        batch.gather_into(&[2, 0], &mut out);
        assert_eq!(out.to_vec(), vec![5.0, 6.0, 1.0, 2.0]);
        let labels = Labels::new(vec![1, 0, 1], 2).unwrap();
        let mut picked = Labels::new(vec![], 2).unwrap();
        labels.gather_into(&[2, 1], &mut picked);
        assert_eq!(picked.indices(), &[1, 0]);
    }
}
