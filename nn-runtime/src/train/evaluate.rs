//! A network's loss and accuracy on a data set, and for classifiers the confusion matrix.

use std::fmt;

use crate::batch::{Batch, Labels};
use crate::error::{Error, Result};
use crate::loss::{predicted_class, Loss, Target};
use crate::network::Network;

/// Loss (and accuracy, for label targets) of a network on a whole data set.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The mean loss.
    pub loss: f32,
    /// The fraction of rows whose largest output is the label, for label targets.
    pub accuracy: Option<f32>,
    /// Which classes were taken for which, for label targets.
    pub confusion: Option<ConfusionMatrix>,
}

impl fmt::Display for Evaluation {
    /// `loss 0.0812, accuracy 97.50%`, then the confusion matrix, if any.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "loss {:.4}", self.loss)?;
        if let Some(accuracy) = self.accuracy {
            write!(f, ", accuracy {:.2}%", 100.0 * accuracy)?;
        }
        if let Some(confusion) = &self.confusion {
            write!(f, "\n\n{confusion}")?;
        }
        Ok(())
    }
}

/// The loss (and accuracy and confusion matrix, for label targets) of `model` on
/// `(x, target)`, in evaluation mode.
///
/// ```
/// use nn_runtime::{evaluate, Batch, CrossEntropyLoss, Labels, Network};
/// # use nn_runtime::{io::{NamedTensors, TensorVisitor, TensorVisitorMut}, Loss, Optimizer,
/// #     ParameterVisitor, Parameters, Result};
/// # /// Predicts the class of the larger of two features.
/// # struct Larger;
/// # impl Parameters for Larger {
/// #     fn visit_parameters<V: ParameterVisitor + ?Sized>(&mut self, _: &mut V) {}
/// # }
/// # impl NamedTensors for Larger {
/// #     fn visit_tensors(&self, _: &mut TensorVisitor<'_>) {}
/// #     fn visit_tensors_mut(&mut self, _: &mut TensorVisitorMut<'_>) {}
/// # }
/// # impl Network<2, 2> for Larger {
/// #     fn forward(&self, x: &Batch<2>) -> Batch<2> { x.clone() }
/// #     fn forward_into(&mut self, x: &Batch<2>, out: &mut Batch<2>) { *out = x.clone() }
/// #     fn train_step<L: Loss<2>, O: Optimizer>(&mut self, _: &Batch<2>, _: &L::Target, _: &L,
/// #         _: &mut O) -> Result<f32> { Ok(0.0) }
/// #     fn forward_train(&mut self, x: &Batch<2>) -> Batch<2> { x.clone() }
/// #     fn backward(&mut self, _: &Batch<2>) -> Result<()> { Ok(()) }
/// # }
///
/// // `Larger` predicts the class of the larger of two features.
/// let x = Batch::<2>::from_vec(4, vec![1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0])?;
/// let labels = Labels::new(vec![0, 1, 1, 1], 2)?;
/// let result = evaluate(&Larger, &x, &labels, &CrossEntropyLoss::new())?;
/// assert_eq!(result.accuracy, Some(0.75));
/// let confusion = result.confusion.unwrap();
/// assert_eq!(confusion.count(1, 0), 1); // one row of class 1 taken for class 0
/// assert_eq!(confusion.class_accuracy(1), Some(2.0 / 3.0));
/// # Ok::<(), nn_runtime::Error>(())
/// ```
///
/// # Errors
/// When the target does not fit `x`, or the loss is not finite.
pub fn evaluate<M, L, const IN: usize, const OUT: usize>(
    model: &M,
    x: &Batch<IN>,
    target: &L::Target,
    loss: &L,
) -> Result<Evaluation>
where
    M: Network<IN, OUT>,
    L: Loss<OUT>,
{
    measure(model, x, target, loss, true)
}

/// [`evaluate`], with the confusion matrix only if `with_confusion`: validation after each
/// epoch reports the loss and accuracy alone.
pub(super) fn measure<M, L, const IN: usize, const OUT: usize>(
    model: &M,
    x: &Batch<IN>,
    target: &L::Target,
    loss: &L,
    with_confusion: bool,
) -> Result<Evaluation>
where
    M: Network<IN, OUT>,
    L: Loss<OUT>,
{
    loss.check_target(target, x.rows())?;
    let output = model.forward(x);
    let value = loss.loss(output.as_slice(), target);
    if !value.is_finite() {
        return Err(Error::NonFiniteLoss { value });
    }
    let accuracy = target
        .has_classes()
        .then(|| target.correct(output.as_slice(), OUT) as f32 / x.rows() as f32);
    let confusion = target
        .labels()
        .filter(|_| with_confusion)
        .map(|labels| ConfusionMatrix::of(labels, output.as_slice(), OUT));
    Ok(Evaluation {
        loss: value,
        accuracy,
        confusion,
    })
}

/// How many rows of each class were predicted as each class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfusionMatrix {
    classes: usize,
    /// Row-major: `counts[actual · classes + predicted]`.
    counts: Vec<usize>,
}

impl ConfusionMatrix {
    /// The matrix of the predictions in `output` (row-major, `width` wide) against `labels`.
    fn of(labels: &Labels, output: &[f32], width: usize) -> Self {
        let classes = labels.classes();
        let mut counts = vec![0; classes * classes];
        for (row, &actual) in output.chunks_exact(width.max(1)).zip(labels.indices()) {
            counts[actual * classes + predicted_class(row)] += 1;
        }
        ConfusionMatrix { classes, counts }
    }

    /// The number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// How many rows of class `actual` were predicted as `predicted`.
    ///
    /// # Panics
    /// If either class is out of range.
    pub fn count(&self, actual: usize, predicted: usize) -> usize {
        assert!(
            actual < self.classes && predicted < self.classes,
            "ConfusionMatrix: class out of range for {} classes",
            self.classes
        );
        self.counts[actual * self.classes + predicted]
    }

    /// The fraction of the rows of class `class` predicted as `class` (its recall), or `None`
    /// when no row has that class.
    ///
    /// # Panics
    /// If `class` is out of range.
    pub fn class_accuracy(&self, class: usize) -> Option<f32> {
        let row = &self.counts[class * self.classes..(class + 1) * self.classes];
        let total: usize = row.iter().sum();
        (total > 0).then(|| row[class] as f32 / total as f32)
    }
}

impl fmt::Display for ConfusionMatrix {
    /// A table, one row per actual class, one column per predicted class, with each class's
    /// accuracy at the end of its row:
    ///
    /// ```text
    /// actual \ predicted    0    1   accuracy
    ///                  0   35    1     97.22%
    ///                  1    2   34     94.44%
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const CORNER: &str = "actual \\ predicted";
        let largest = self
            .counts
            .iter()
            .copied()
            .max()
            .unwrap_or(0)
            .max(self.classes);
        let width = largest.to_string().len() + 2;
        write!(f, "{CORNER}")?;
        for class in 0..self.classes {
            write!(f, "{class:>width$}")?;
        }
        write!(f, "   accuracy")?;
        for actual in 0..self.classes {
            write!(f, "\n{actual:>corner$}", corner = CORNER.len())?;
            for predicted in 0..self.classes {
                write!(f, "{:>width$}", self.count(actual, predicted))?;
            }
            match self.class_accuracy(actual) {
                Some(accuracy) => write!(f, "{:>10.2}%", 100.0 * accuracy)?,
                None => write!(f, "{:>11}", "-")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_counts_each_prediction_under_its_actual_class() {
        let labels = Labels::new(vec![0, 0, 1, 2, 2, 2], 3).unwrap();
        #[rustfmt::skip]
        let output = [
            0.9, 0.1, 0.0, // 0 → 0
            0.1, 0.8, 0.0, // 0 → 1
            0.0, 0.7, 0.2, // 1 → 1
            0.0, 0.0, 1.0, // 2 → 2
            0.5, 0.5, 0.0, // 2 → 0: a tie goes to the first
            f32::NAN, 0.1, 0.3, // 2 → 2: a NaN never wins
        ];
        let matrix = ConfusionMatrix::of(&labels, &output, 3);
        let rows: Vec<Vec<usize>> = (0..3)
            .map(|a| (0..3).map(|p| matrix.count(a, p)).collect())
            .collect();
        assert_eq!(rows, [[1, 1, 0], [0, 1, 0], [1, 0, 2]]);
        assert_eq!(matrix.class_accuracy(0), Some(0.5));
        assert_eq!(matrix.class_accuracy(1), Some(1.0));
        assert_eq!(matrix.class_accuracy(2), Some(2.0 / 3.0));
    }

    #[test]
    fn the_table_lines_up_and_marks_a_class_without_rows() {
        let labels = Labels::new(vec![0, 0, 0, 1], 3).unwrap();
        let output = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0];
        let table = ConfusionMatrix::of(&labels, &output, 3).to_string();
        let expected = "\
actual \\ predicted  0  1  2   accuracy
                 0  2  1  0     66.67%
                 1  0  1  0    100.00%
                 2  0  0  0          -";
        assert_eq!(table, expected);
    }
}
