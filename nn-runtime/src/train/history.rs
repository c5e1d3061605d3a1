//! What each epoch of a run measured, and the run's record of them: a table, a CSV file.

use std::fmt;
use std::ops::Deref;
use std::path::Path;

use crate::error::Result;
use crate::io::{io_error, write_atomically};

/// What one epoch of training measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochReport {
    /// The epoch, counted from 1.
    pub epoch: usize,
    /// The number of epochs planned.
    pub epochs: usize,
    /// The mean training loss over the epoch's samples.
    pub loss: f32,
    /// The fraction of samples whose largest output is the label, for label targets.
    pub accuracy: Option<f32>,
    /// The loss on the validation set after the epoch, with [`Trainer::validate`].
    ///
    /// [`Trainer::validate`]: crate::Trainer::validate
    pub val_loss: Option<f32>,
    /// The accuracy on the validation set after the epoch, for label targets.
    pub val_accuracy: Option<f32>,
    /// The learning rate of the epoch's last step.
    pub lr: f64,
    /// How long the epoch took, validation included.
    pub seconds: f64,
    /// Mini-batches left out because their loss or gradients were not finite, with
    /// [`Trainer::skip_non_finite`]; the loss and accuracy are over the other rows.
    ///
    /// [`Trainer::skip_non_finite`]: crate::Trainer::skip_non_finite
    pub skipped: usize,
}

impl fmt::Display for EpochReport {
    /// PyTorch tutorial style: `Epoch [1/10], Loss: 0.6931`, then what else was measured.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Epoch [{}/{}], Loss: {:.4}",
            self.epoch, self.epochs, self.loss
        )?;
        if let Some(accuracy) = self.accuracy {
            write!(f, ", Accuracy: {:.2}%", accuracy * 100.0)?;
        }
        if let Some(loss) = self.val_loss {
            write!(f, ", Val Loss: {loss:.4}")?;
        }
        if let Some(accuracy) = self.val_accuracy {
            write!(f, ", Val Accuracy: {:.2}%", accuracy * 100.0)?;
        }
        if self.skipped > 0 {
            write!(f, ", Skipped batches: {}", self.skipped)?;
        }
        Ok(())
    }
}

/// The record of a training run, one [`EpochReport`] per epoch, as [`Trainer::fit`] returns it.
///
/// It reads as a slice of reports (`history.len()`, `history[0].loss`, `history.last()`), prints
/// as a table, and writes itself as CSV.
///
/// ```
/// use nn_runtime::History;
/// # fn train() -> nn_runtime::Result<History> { Ok(History::default()) }
///
/// let history = train()?; // Trainer::new(…).fit(…)?
/// if let Some(last) = history.last() {
///     println!("final loss {:.4}", last.loss);
/// }
/// println!("{history}"); // one line per epoch, training and validation side by side
/// # let dir = std::env::temp_dir();
/// history.write_csv(dir.join("history.csv"))?;
/// # Ok::<(), nn_runtime::Error>(())
/// ```
///
/// [`Trainer::fit`]: crate::Trainer::fit
#[derive(Debug, Clone, PartialEq, Default)]
pub struct History {
    pub(crate) epochs: Vec<EpochReport>,
    /// The epoch whose weights the model holds, when early stopping restored them.
    pub(crate) restored_epoch: Option<usize>,
}

impl History {
    /// The reports, one per epoch trained.
    pub fn epochs(&self) -> &[EpochReport] {
        &self.epochs
    }

    /// The epoch whose weights the model was given back when early stopping ended the run,
    /// or `None` when it keeps those of the last epoch.
    pub fn restored_epoch(&self) -> Option<usize> {
        self.restored_epoch
    }

    /// The history as CSV: a header, then one line per epoch, empty fields for what was not
    /// measured.
    ///
    /// ```text
    /// epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds,skipped_batches
    /// 1,0.6931472,0.5,0.6812,0.55,0.001,0.0121,0
    /// ```
    ///
    /// Every number is written in full, so reading it back gives the same floats.
    pub fn to_csv(&self) -> String {
        fn optional(value: Option<f32>) -> String {
            value.map_or(String::new(), |v| v.to_string())
        }
        let mut csv = String::from(CSV_HEADER);
        for r in &self.epochs {
            csv += &format!(
                "\n{},{},{},{},{},{},{},{}",
                r.epoch,
                r.loss,
                optional(r.accuracy),
                optional(r.val_loss),
                optional(r.val_accuracy),
                r.lr,
                r.seconds,
                r.skipped
            );
        }
        csv.push('\n');
        csv
    }

    /// Writes [`to_csv`](History::to_csv) to `path`, atomically: a reader sees the old file or
    /// the new one.
    ///
    /// # Errors
    /// [`Error::Io`](crate::Error::Io) when the file cannot be written.
    pub fn write_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        write_atomically(path, self.to_csv().as_bytes()).map_err(|e| io_error(path, e))
    }

    /// The reports of [`to_csv`](History::to_csv)'s text, for a run of `epochs` epochs; `None`
    /// for text it did not write.
    pub(crate) fn parse_csv(text: &str, epochs: usize) -> Option<Vec<EpochReport>> {
        let mut lines = text.lines();
        if lines.next()? != CSV_HEADER {
            return None;
        }
        lines.map(|line| parse_report(line, epochs)).collect()
    }
}

const CSV_HEADER: &str =
    "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds,skipped_batches";

fn parse_report(line: &str, epochs: usize) -> Option<EpochReport> {
    fn optional(field: &str) -> Option<Option<f32>> {
        if field.is_empty() {
            Some(None)
        } else {
            field.parse().ok().map(Some)
        }
    }
    let fields: Vec<&str> = line.split(',').collect();
    let [epoch, loss, accuracy, val_loss, val_accuracy, lr, seconds, skipped] = fields[..] else {
        return None;
    };
    Some(EpochReport {
        epoch: epoch.parse().ok()?,
        epochs,
        loss: loss.parse().ok()?,
        accuracy: optional(accuracy)?,
        val_loss: optional(val_loss)?,
        val_accuracy: optional(val_accuracy)?,
        lr: lr.parse().ok()?,
        seconds: seconds.parse().ok()?,
        skipped: skipped.parse().ok()?,
    })
}

impl Deref for History {
    type Target = [EpochReport];

    fn deref(&self) -> &[EpochReport] {
        &self.epochs
    }
}

impl<'a> IntoIterator for &'a History {
    type Item = &'a EpochReport;
    type IntoIter = std::slice::Iter<'a, EpochReport>;

    fn into_iter(self) -> Self::IntoIter {
        self.epochs.iter()
    }
}

impl fmt::Display for History {
    /// A table with a column for each thing measured, training and validation side by side:
    ///
    /// ```text
    /// epoch  train loss  train acc  val loss  val acc         lr  seconds
    ///     1      0.6931     52.00%    0.6812   55.00%   1.000e-3    0.012
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let any =
            |field: fn(&EpochReport) -> Option<f32>| self.epochs.iter().any(|r| field(r).is_some());
        let (accuracy, val_loss, val_accuracy) = (
            any(|r| r.accuracy),
            any(|r| r.val_loss),
            any(|r| r.val_accuracy),
        );
        let percent = |v: Option<f32>| v.map_or("-".into(), |v| format!("{:.2}%", 100.0 * v));
        write!(f, "epoch  train loss")?;
        let columns = [
            (accuracy, "  train acc"),
            (val_loss, "  val loss"),
            (val_accuracy, "  val acc"),
        ];
        for (shown, title) in columns {
            if shown {
                write!(f, "{title}")?;
            }
        }
        write!(f, "         lr  seconds")?;
        for r in &self.epochs {
            write!(f, "\n{:>5}  {:>10.4}", r.epoch, r.loss)?;
            if accuracy {
                write!(f, "  {:>9}", percent(r.accuracy))?;
            }
            if val_loss {
                let loss = r.val_loss.map_or("-".into(), |v| format!("{v:.4}"));
                write!(f, "  {loss:>8}")?;
            }
            if val_accuracy {
                write!(f, "  {:>7}", percent(r.val_accuracy))?;
            }
            write!(f, "  {:>9.3e}  {:>7.3}", r.lr, r.seconds)?;
        }
        if let Some(epoch) = self.restored_epoch {
            write!(f, "\nstopped early; the weights are those of epoch {epoch}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(epoch: usize, val: bool) -> EpochReport {
        EpochReport {
            epoch,
            epochs: 3,
            loss: 1.0 / (epoch as f32 + 0.3),
            accuracy: Some(0.1 * epoch as f32),
            val_loss: val.then_some(0.7 / epoch as f32),
            val_accuracy: val.then_some(0.33),
            lr: 1e-3 / 3.0,
            seconds: 0.012_345,
            skipped: epoch - 1,
        }
    }

    #[test]
    fn the_csv_reads_back_to_the_same_reports() {
        let history = History {
            epochs: vec![report(1, true), report(2, false), report(3, true)],
            restored_epoch: None,
        };
        let csv = history.to_csv();
        assert!(csv.starts_with("epoch,train_loss,"));
        assert_eq!(csv.lines().nth(2).unwrap().split(',').nth(3), Some(""));
        assert_eq!(History::parse_csv(&csv, 3).unwrap(), history.epochs);
        assert_eq!(History::parse_csv("epoch\n1", 3), None);
        assert_eq!(History::parse_csv(&csv.replace(",0.33", ",x"), 3), None);
    }

    #[test]
    fn the_table_shows_only_what_was_measured() {
        let mut plain = report(1, false);
        plain.accuracy = None;
        let history = History {
            epochs: vec![plain],
            restored_epoch: None,
        };
        assert_eq!(
            history.to_string(),
            "epoch  train loss         lr  seconds\n    1      0.7692   3.333e-4    0.012"
        );
        let history = History {
            epochs: vec![report(1, true), report(2, false)],
            restored_epoch: Some(1),
        };
        let table = history.to_string();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0],
            "epoch  train loss  train acc  val loss  val acc         lr  seconds"
        );
        assert_eq!(
            lines[1],
            "    1      0.7692     10.00%    0.7000   33.00%   3.333e-4    0.012"
        );
        assert_eq!(
            lines[2],
            "    2      0.4348     20.00%         -        -   3.333e-4    0.012"
        );
        assert_eq!(lines[3], "stopped early; the weights are those of epoch 1");
    }
}
