//! Loss functions, each with its value and its gradient side by side.
//!
//! All losses take the mean over the batch (PyTorch's `reduction='mean'`): over every element for
//! the elementwise losses, over the rows for [`CrossEntropyLoss`] and [`NLLLoss`]. Each declares
//! its target type, so a float target cannot be passed where class indices are expected.

mod bce;
mod bce_with_logits;
mod cross_entropy;
mod huber;
mod l1;
mod mse;
mod nll;
mod smooth_l1;

pub use bce::BCELoss;
pub use bce_with_logits::BCEWithLogitsLoss;
pub use cross_entropy::CrossEntropyLoss;
pub use huber::HuberLoss;
pub use l1::L1Loss;
pub use mse::MSELoss;
pub use nll::NLLLoss;
pub use smooth_l1::SmoothL1Loss;

use crate::activation::RowActivation;
use crate::batch::{Batch, Labels};
use crate::error::{Error, Result};

/// A loss over a network's output, `F` values per row.
///
/// Inputs are row-major slices of `rows × F` values; `rows` is `input.len() / F`. Callers check
/// the target first with [`check_target`](Loss::check_target); the other methods assume it fits.
pub trait Loss<const F: usize> {
    /// What the loss compares the output with: [`Batch<F>`] or [`Labels`].
    type Target: Target;

    /// Checks that `target` has `rows` rows (and fits `F`).
    ///
    /// # Errors
    /// [`Error::RowMismatch`], [`Error::EmptyBatch`] or [`Error::ClassCount`].
    fn check_target(&self, target: &Self::Target, rows: usize) -> Result<()> {
        if rows == 0 {
            return Err(Error::EmptyBatch);
        }
        if target.rows() != rows {
            return Err(Error::RowMismatch {
                input: rows,
                target: target.rows(),
            });
        }
        target.check_width(F)
    }

    /// The mean loss.
    fn loss(&self, input: &[f32], target: &Self::Target) -> f32;

    /// The mean loss, and its gradient with respect to `input` written to `grad`.
    fn loss_and_grad(&self, input: &[f32], target: &Self::Target, grad: &mut [f32]) -> f32;

    /// The mean loss of `output = activation(pre_activation)`, and its gradient with respect to
    /// `pre_activation` written to `grad`.
    ///
    /// By default the gradient goes through `activation`'s derivative. Losses override this
    /// where a combined gradient is simpler and more stable (sigmoid with binary cross-entropy).
    fn loss_and_grad_through<A: RowActivation>(
        &self,
        activation: &A,
        pre_activation: &[f32],
        output: &[f32],
        target: &Self::Target,
        grad: &mut [f32],
    ) -> f32 {
        let loss = self.loss_and_grad(output, target, grad);
        activation.backward_rows(pre_activation, output, grad, F);
        loss
    }

    /// The mean loss of a batch, checked.
    ///
    /// # Errors
    /// As [`check_target`](Loss::check_target).
    fn value(&self, input: &Batch<F>, target: &Self::Target) -> Result<f32> {
        self.check_target(target, input.rows())?;
        Ok(self.loss(input.as_slice(), target))
    }

    /// The mean loss of a batch and its gradient with respect to the batch, checked.
    ///
    /// # Errors
    /// As [`check_target`](Loss::check_target).
    fn value_and_grad(&self, input: &Batch<F>, target: &Self::Target) -> Result<(f32, Batch<F>)> {
        self.check_target(target, input.rows())?;
        let mut grad = Batch::zeros(input.rows());
        let loss = self.loss_and_grad(input.as_slice(), target, grad.as_mut_slice());
        Ok((loss, grad))
    }
}

/// A loss target: rows that can be checked against a batch and gathered into mini-batches.
pub trait Target: Clone {
    /// The number of rows.
    fn rows(&self) -> usize;

    /// Checks the target against a network output `width` wide.
    ///
    /// # Errors
    /// [`Error::ClassCount`] for labels whose class count is not `width`.
    fn check_width(&self, width: usize) -> Result<()>;

    /// Copies the rows at `indices` into `out`, reusing its memory.
    fn gather_into(&self, indices: &[usize], out: &mut Self);

    /// Whether the target holds class indices, so that accuracy means something.
    fn has_classes(&self) -> bool {
        false
    }

    /// How many rows of `output` (row-major, `width` wide) have their largest value at the
    /// target's class; 0 for targets without classes.
    fn correct(&self, output: &[f32], width: usize) -> usize {
        let _ = (output, width);
        0
    }

    /// The target as class labels, for a confusion matrix; `None` for targets without classes.
    fn labels(&self) -> Option<&Labels> {
        None
    }
}

impl<const F: usize> Target for Batch<F> {
    fn rows(&self) -> usize {
        Batch::rows(self)
    }

    fn check_width(&self, _width: usize) -> Result<()> {
        // The width is checked by the type: `Loss<F>` takes a `Batch<F>`.
        Ok(())
    }

    fn gather_into(&self, indices: &[usize], out: &mut Self) {
        Batch::gather_into(self, indices, out);
    }
}

impl Target for Labels {
    fn rows(&self) -> usize {
        self.len()
    }

    fn check_width(&self, width: usize) -> Result<()> {
        if self.classes() != width {
            return Err(Error::ClassCount {
                expected: width,
                found: self.classes(),
            });
        }
        Ok(())
    }

    fn gather_into(&self, indices: &[usize], out: &mut Self) {
        Labels::gather_into(self, indices, out);
    }

    fn has_classes(&self) -> bool {
        true
    }

    fn correct(&self, output: &[f32], width: usize) -> usize {
        output
            .chunks_exact(width.max(1))
            .zip(self.indices())
            .filter(|(row, &label)| predicted_class(row) == label)
            .count()
    }

    fn labels(&self) -> Option<&Labels> {
        Some(self)
    }
}

/// The class an output row predicts: the position of its largest value, the first on a tie; a
/// NaN never wins, and a row of NaNs predicts class 0.
pub(crate) fn predicted_class(row: &[f32]) -> usize {
    let best = row
        .iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 {
                (i, v)
            } else {
                best
            }
        });
    best.0
}

/// Test helpers shared by the loss files: fixture loading and checking, finite differences.
#[cfg(test)]
pub(crate) mod test_support {
    use super::Loss;
    use crate::batch::{Batch, Labels};
    use crate::testing::{assert_close, load_fixture};

    /// The width of every loss fixture (`input` is `[32, 5]`).
    pub(crate) const WIDTH: usize = 5;

    /// One loss fixture: `input`, `target`, PyTorch's mean `loss` and `grad_input`.
    pub(crate) struct Fixture<T> {
        pub(crate) input: Vec<f32>,
        pub(crate) target: T,
        pub(crate) loss: f32,
        pub(crate) grad: Vec<f32>,
    }

    fn fixture<T>(name: &str, target: impl FnOnce(&crate::testing::Tensor) -> T) -> Fixture<T> {
        let tensors = load_fixture(&format!("losses/{name}.safetensors"));
        let input = tensors["input"].clone();
        assert_eq!(input.shape, [32, WIDTH], "{name}: input shape");
        Fixture {
            target: target(&tensors["target"]),
            loss: tensors["loss"].data[0],
            grad: tensors["grad_input"].data.clone(),
            input: input.data,
        }
    }

    /// A fixture whose target is a float batch (the elementwise losses).
    pub(crate) fn float_fixture(name: &str) -> Fixture<Batch<WIDTH>> {
        fixture(name, |t| {
            Batch::from_vec(t.shape[0], t.data.clone()).expect("target is [32, 5]")
        })
    }

    /// A fixture whose target is `I64` class indices (cross-entropy, NLL).
    pub(crate) fn label_fixture(name: &str) -> Fixture<Labels> {
        fixture(name, |t| {
            Labels::new(t.indices(), WIDTH).expect("labels below 5")
        })
    }

    /// Checks the value and the gradient of `loss` against PyTorch's, as `|a − b| ≤ atol +
    /// rtol·|b|` with the fixture README's rtol = 1e-5 (atol = 1e-6 for the value, `grad_atol`
    /// for the gradient). Also checks that every entry point agrees and that `grad` is
    /// overwritten, not accumulated into.
    pub(crate) fn check_fixture<L>(loss: &L, fixture: &Fixture<L::Target>, grad_atol: f32)
    where
        L: Loss<WIDTH>,
    {
        let rows = fixture.input.len() / WIDTH;
        loss.check_target(&fixture.target, rows)
            .expect("fixture target fits");
        let value = loss.loss(&fixture.input, &fixture.target);
        assert_close("loss", &[value], &[fixture.loss], 1e-6, 1e-5);
        // The value is summed in f64; PyTorch's is within 1.2e-7 of the exact mean.
        assert_close("loss (accuracy)", &[value], &[fixture.loss], 0.0, 1e-6);

        let mut grad = vec![f32::NAN; fixture.input.len()];
        let value_too = loss.loss_and_grad(&fixture.input, &fixture.target, &mut grad);
        assert_eq!(
            value.to_bits(),
            value_too.to_bits(),
            "loss and loss_and_grad differ"
        );
        assert_close("grad_input", &grad, &fixture.grad, grad_atol, 1e-5);

        let batch = Batch::<WIDTH>::from_vec(rows, fixture.input.clone()).unwrap();
        assert_eq!(loss.value(&batch, &fixture.target), Ok(value));
        let (value_again, grad_again) = loss.value_and_grad(&batch, &fixture.target).unwrap();
        assert_eq!(value_again, value);
        assert_eq!(grad_again.as_slice(), &grad[..]);
    }

    /// Checks `loss_and_grad` against central differences of `loss`, coordinate by coordinate.
    ///
    /// NOTE: the loss is an `f32` function (its sum is accumulated in `f64`, but inputs and
    /// the result are `f32`), so this uses a large step `h` (≈ 1e-2…1e-3) and a loose tolerance,
    /// `|fd − g| ≤ 1e-4 + 1e-2·|g|`. The step is the difference of the two rounded perturbed
    /// inputs, so rounding `x ± h` to `f32` costs nothing. Callers keep inputs more than `h`
    /// away from kinks.
    pub(crate) fn check_gradient<L, const F: usize>(
        loss: &L,
        input: &[f32],
        target: &L::Target,
        h: f32,
    ) where
        L: Loss<F>,
    {
        let mut grad = vec![0.0; input.len()];
        loss.loss_and_grad(input, target, &mut grad);
        let mut probe = input.to_vec();
        for i in 0..input.len() {
            let (plus, minus) = (input[i] + h, input[i] - h);
            probe[i] = plus;
            let up = f64::from(loss.loss(&probe, target));
            probe[i] = minus;
            let down = f64::from(loss.loss(&probe, target));
            probe[i] = input[i];
            let numeric = ((up - down) / f64::from(plus - minus)) as f32;
            let allowed = 1e-4 + 1e-2 * grad[i].abs();
            assert!(
                (numeric - grad[i]).abs() <= allowed,
                "d loss / d input[{i}] at {}: analytic {:e}, central difference {:e}",
                input[i],
                grad[i],
                numeric
            );
        }
    }

    /// `values` as a batch `F` wide, for tests.
    pub(crate) fn batch<const F: usize>(values: &[f32]) -> Batch<F> {
        Batch::from_vec(values.len() / F, values.to_vec()).expect("whole rows")
    }

    /// Checks that the loss is not negative (nor NaN) and that `loss` and `loss_and_grad` agree.
    pub(crate) fn assert_non_negative<L: Loss<F>, const F: usize>(
        loss: &L,
        input: &[f32],
        target: &L::Target,
    ) {
        let value = loss.loss(input, target);
        assert!(value >= 0.0, "loss {value} < 0 for input {input:?}");
        let mut grad = vec![0.0; input.len()];
        assert_eq!(
            loss.loss_and_grad(input, target, &mut grad).to_bits(),
            value.to_bits()
        );
    }
}
