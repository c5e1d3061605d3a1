//! Per-feature scaling, fitted on the training rows and applied the same way to every other row.

use crate::batch::Batch;
use crate::error::{Error, Result};
use crate::io::{NamedTensors, TensorVisitor, TensorVisitorMut};

/// How a [`Scaler`] was fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scaling {
    /// `(x − mean) / std`, with the population standard deviation, as scikit-learn's
    /// `StandardScaler`.
    Standard,
    /// `(x − min) / (max − min)`, into `[0, 1]` on the fitted rows, as scikit-learn's
    /// `MinMaxScaler`.
    MinMax,
}

/// Scales each of `F` features as `(x − shift) / divisor`, with the shift and divisor fitted on
/// the training rows only, so that validation and test rows, and inference later, see the same
/// transformation. A feature that is constant on the fitted rows has a divisor of 1.
///
/// The scaler's two tensors (`scaler.shift`, `scaler.divisor`) go into the model's weights file,
/// so that whoever loads the model applies the same scaling:
///
/// ```
/// use nn_runtime::data::Scaler;
/// use nn_runtime::io::{load_safetensors, save_safetensors};
/// use nn_runtime::Batch;
/// # use nn_runtime::io::{NamedTensors, TensorVisitor, TensorVisitorMut};
/// # /// What `network!` generates, in short.
/// # struct Model { w: Vec<f32> }
/// # impl Model { fn seeded(_: u64) -> Self { Model { w: vec![0.5; 2] } } }
/// # impl NamedTensors for Model {
/// #     fn visit_tensors(&self, v: &mut TensorVisitor<'_>) { v("fc.weight", &[1, 2], &self.w) }
/// #     fn visit_tensors_mut(&mut self, v: &mut TensorVisitorMut<'_>) {
/// #         v("fc.weight", &[1, 2], &mut self.w)
/// #     }
/// # }
///
/// let train = Batch::<2>::from_rows(&[[1.0, 10.0], [3.0, 10.0], [5.0, 40.0]]);
/// let scaler = Scaler::standard(&train)?;
/// let scaled = scaler.apply(&train);
/// assert_eq!(scaled.row(0)[0], -1.224_744_8); // (1 − 3) / √(8/3)
///
/// // The model's weights and the scaler in one file, read back the same way.
/// let mut model = Model::seeded(0);
/// # let path = std::env::temp_dir().join(format!("scaler-doc-{}.safetensors", std::process::id()));
/// save_safetensors(&(&model, &scaler), &path)?;
/// let mut loaded = Scaler::<2>::identity();
/// load_safetensors(&mut (&mut model, &mut loaded), &path)?;
/// assert_eq!(loaded, scaler);
/// # std::fs::remove_file(path).unwrap();
/// # Ok::<(), nn_runtime::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Scaler<const F: usize> {
    shift: Vec<f32>,
    divisor: Vec<f32>,
}

impl<const F: usize> Scaler<F> {
    /// The scaler that changes nothing: a shift of 0 and a divisor of 1; a place to load one.
    pub fn identity() -> Self {
        Scaler {
            shift: vec![0.0; F],
            divisor: vec![1.0; F],
        }
    }

    /// Fitted on `rows` as `scaling` says.
    ///
    /// # Errors
    /// [`Error::EmptyBatch`] for no rows; [`Error::InvalidArgument`] for a NaN or an infinity in
    /// `rows`, which would make every scaled value NaN.
    pub fn fit(rows: &Batch<F>, scaling: Scaling) -> Result<Self> {
        if rows.rows() == 0 {
            return Err(Error::EmptyBatch);
        }
        if let Some(at) = rows.as_slice().iter().position(|v| !v.is_finite()) {
            return Err(Error::InvalidArgument {
                name: "rows to fit a scaler on",
                message: format!(
                    "feature {} of row {} is {}",
                    at % F,
                    at / F,
                    rows.as_slice()[at]
                ),
            });
        }
        let columns = (0..F).map(|j| (0..rows.rows()).map(move |i| f64::from(rows.row(i)[j])));
        let (shift, divisor) = columns
            .map(|column| match scaling {
                Scaling::Standard => mean_and_std(column),
                Scaling::MinMax => min_and_range(column),
            })
            .map(|(shift, divisor)| {
                let divisor = if divisor == 0.0 { 1.0 } else { divisor };
                (shift as f32, divisor as f32)
            })
            .unzip();
        Ok(Scaler { shift, divisor })
    }

    /// Standardisation fitted on `rows`: [`Scaling::Standard`].
    ///
    /// # Errors
    /// As [`fit`](Scaler::fit).
    pub fn standard(rows: &Batch<F>) -> Result<Self> {
        Self::fit(rows, Scaling::Standard)
    }

    /// Min–max scaling fitted on `rows`: [`Scaling::MinMax`].
    ///
    /// # Errors
    /// As [`fit`](Scaler::fit).
    pub fn min_max(rows: &Batch<F>) -> Result<Self> {
        Self::fit(rows, Scaling::MinMax)
    }

    /// `rows`, scaled.
    pub fn apply(&self, rows: &Batch<F>) -> Batch<F> {
        let mut scaled = rows.clone();
        self.apply_in_place(&mut scaled);
        scaled
    }

    /// Scales `rows` where they are.
    pub fn apply_in_place(&self, rows: &mut Batch<F>) {
        for row in rows.as_mut_slice().chunks_exact_mut(F.max(1)) {
            for ((x, shift), divisor) in row.iter_mut().zip(&self.shift).zip(&self.divisor) {
                *x = (*x - shift) / divisor;
            }
        }
    }

    /// What is subtracted from each feature: its mean or its minimum.
    pub fn shift(&self) -> &[f32] {
        &self.shift
    }

    /// What each shifted feature is divided by: its standard deviation or its range.
    pub fn divisor(&self) -> &[f32] {
        &self.divisor
    }
}

/// The mean and population standard deviation, in `f64`, in two passes for accuracy.
fn mean_and_std(column: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let n = column.clone().count() as f64;
    let mean = column.clone().sum::<f64>() / n;
    let variance = column.map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, variance.sqrt())
}

fn min_and_range(column: impl Iterator<Item = f64>) -> (f64, f64) {
    let (min, max) = column.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    });
    (min, max - min)
}

impl<const F: usize> NamedTensors for Scaler<F> {
    fn visit_tensors(&self, visitor: &mut TensorVisitor<'_>) {
        visitor("scaler.shift", &[F], &self.shift);
        visitor("scaler.divisor", &[F], &self.divisor);
    }

    fn visit_tensors_mut(&mut self, visitor: &mut TensorVisitorMut<'_>) {
        visitor("scaler.shift", &[F], &mut self.shift);
        visitor("scaler.divisor", &[F], &mut self.divisor);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standardisation_matches_the_population_statistics() {
        let rows = Batch::<3>::from_rows(&[[1.0, 2.0, 5.0], [2.0, 4.0, 5.0], [6.0, 0.0, 5.0]]);
        let scaler = Scaler::standard(&rows).unwrap();
        assert_eq!(scaler.shift(), [3.0, 2.0, 5.0]);
        let std0 = (14.0f64 / 3.0).sqrt() as f32;
        let std1 = (8.0f64 / 3.0).sqrt() as f32;
        assert_eq!(
            scaler.divisor(),
            [std0, std1, 1.0],
            "a constant feature divides by 1"
        );
        let scaled = scaler.apply(&rows);
        assert_eq!(scaled.row(2), [3.0 / std0, -2.0 / std1, 0.0]);
    }

    #[test]
    fn min_max_maps_the_fitted_rows_onto_zero_to_one() {
        let rows = Batch::<2>::from_rows(&[[-1.0, 7.0], [3.0, 7.0], [1.0, 7.0]]);
        let scaler = Scaler::min_max(&rows).unwrap();
        let scaled = scaler.apply(&rows);
        assert_eq!(scaled.as_slice(), [0.0, 0.0, 1.0, 0.0, 0.5, 0.0]);
        // Other rows get the same transformation, so they may fall outside [0, 1].
        let other = scaler.apply(&Batch::from_rows(&[[5.0, 8.0]]));
        assert_eq!(other.as_slice(), [1.5, 1.0]);
    }

    #[test]
    fn no_rows_and_non_finite_values_are_errors() {
        assert_eq!(
            Scaler::<2>::standard(&Batch::zeros(0)),
            Err(Error::EmptyBatch)
        );
        let error = Scaler::min_max(&Batch::<2>::from_rows(&[[1.0, 2.0], [f32::NAN, 0.0]]));
        assert_eq!(
            error.unwrap_err().to_string(),
            "invalid rows to fit a scaler on: feature 0 of row 1 is NaN"
        );
    }
}
