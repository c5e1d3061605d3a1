//! What a person watching a run sees: a progress bar on stderr, a line per epoch on stdout.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::history::EpochReport;

/// How a [`Trainer`](crate::Trainer) shows a run's progress.
///
/// ```
/// use nn_runtime::{Progress, Trainer};
///
/// // Lines in a log, even on a terminal.
/// let trainer = Trainer::new(10).progress(Progress::Lines);
/// # let _ = trainer;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Progress {
    /// [`Bar`](Progress::Bar) when stderr is a terminal and the `CI` environment variable is
    /// not set, [`Lines`](Progress::Lines) otherwise.
    #[default]
    Auto,
    /// A bar on stderr (epoch, batch, running loss, samples per second, time left), and the
    /// epochs' lines on stdout, each at most ten times a second: with epochs shorter than a
    /// tenth of a second, some lines are left out (the [`History`](crate::History) has them all).
    Bar,
    /// Each epoch's line on stdout: `Epoch [1/10], Loss: 0.6931`.
    Lines,
    /// Nothing.
    Off,
}

impl Progress {
    /// What [`Auto`](Progress::Auto) means here and now.
    fn resolved(self) -> Progress {
        match self {
            Progress::Auto
                if std::io::stderr().is_terminal() && std::env::var_os("CI").is_none() =>
            {
                Progress::Bar
            }
            Progress::Auto => Progress::Lines,
            chosen => chosen,
        }
    }
}

/// The bar is redrawn at most this often, so that drawing costs nothing next to training.
const REDRAW: Duration = Duration::from_millis(100);

/// Shows one run's progress as its [`Progress`] says.
pub(super) struct Reporter {
    bar: Option<ProgressBar>,
    lines: bool,
    /// Whether stdout is the terminal the bar is drawn on, so that a line must make way for it.
    stdout_on_terminal: bool,
    last_drawn: Instant,
    /// When the last epoch's line was printed, with a bar.
    last_line: Option<Instant>,
    started: Instant,
    /// Rows trained since `started`, for the rate.
    rows: usize,
}

impl Reporter {
    /// A reporter for a run of `epochs` epochs of `batches` mini-batches each, starting after
    /// `done` epochs (of a resumed run).
    pub(super) fn new(progress: Progress, epochs: usize, batches: usize, done: usize) -> Self {
        let progress = progress.resolved();
        let bar = (progress == Progress::Bar).then(|| {
            let total = (epochs * batches) as u64;
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let template = "epoch {prefix} [{bar:30}] {msg} · {elapsed} elapsed, ETA {eta}";
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_position((done * batches) as u64);
            bar.set_prefix(format!("{}/{epochs}", done + 1));
            bar
        });
        let now = Instant::now();
        Reporter {
            bar,
            lines: progress != Progress::Off,
            stdout_on_terminal: std::io::stdout().is_terminal(),
            last_drawn: now,
            last_line: None,
            started: now,
            rows: 0,
        }
    }

    /// Counts a trained mini-batch of `rows` rows; redraws the bar if it is due.
    pub(super) fn batch_done(&mut self, at: BatchPosition, rows: usize, running_loss: f64) {
        self.rows += rows;
        let Some(bar) = &self.bar else { return };
        let now = Instant::now();
        if now.duration_since(self.last_drawn) < REDRAW {
            return;
        }
        self.last_drawn = now;
        let rate = self.rows as f64 / now.duration_since(self.started).as_secs_f64();
        bar.set_prefix(format!("{}/{}", at.epoch, at.epochs));
        bar.set_message(format!(
            "batch {}/{} · loss {running_loss:.4} · {rate:.0} samples/s",
            at.batch, at.batches
        ));
        bar.set_position(((at.epoch - 1) * at.batches + at.batch) as u64);
    }

    /// Prints an epoch's line: always without a bar; with one, if a tenth of a second has
    /// passed since the last line, or it is the last epoch, above the bar.
    pub(super) fn epoch_done(&mut self, report: &EpochReport) {
        if !self.lines {
            return;
        }
        let Some(bar) = &self.bar else {
            println!("{report}");
            return;
        };
        let now = Instant::now();
        let due = self
            .last_line
            .is_none_or(|last| now.duration_since(last) >= REDRAW);
        if !due && report.epoch < report.epochs {
            return;
        }
        self.last_line = Some(now);
        if self.stdout_on_terminal {
            bar.suspend(|| println!("{report}"));
        } else {
            println!("{report}");
        }
    }
}

impl Drop for Reporter {
    /// Takes the bar off the terminal, however the run ended (an error included).
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Where a run is: batch `batch` of `batches` in epoch `epoch` of `epochs`, counted from 1.
#[derive(Debug, Clone, Copy)]
pub(super) struct BatchPosition {
    pub(super) epoch: usize,
    pub(super) epochs: usize,
    pub(super) batch: usize,
    pub(super) batches: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_choices_stand_and_auto_is_resolved() {
        for chosen in [Progress::Bar, Progress::Lines, Progress::Off] {
            assert_eq!(chosen.resolved(), chosen);
        }
        // Tests run with stderr captured or redirected, or under CI: never a bar.
        let auto = Progress::Auto.resolved();
        assert!(auto == Progress::Lines || std::io::stderr().is_terminal());
    }
}
