//! The loss curve of a run, as an SVG picture (the `plot` feature).

use std::path::Path;

use plotters::prelude::*;

use super::history::History;
use crate::error::{Error, Result};
use crate::io::{io_error, write_atomically};

/// The picture's size in pixels.
const SIZE: (u32, u32) = (720, 420);

impl History {
    /// The loss curves as an SVG picture: training loss, and validation loss when there is one,
    /// per epoch.
    ///
    /// ```
    /// # use nn_runtime::History;
    /// let svg = History::default().to_svg()?;
    /// assert!(svg.starts_with("<svg"));
    /// # Ok::<(), nn_runtime::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Plot`] if the picture cannot be drawn.
    pub fn to_svg(&self) -> Result<String> {
        let mut svg = String::new();
        self.draw(SVGBackend::with_string(&mut svg, SIZE))
            .map_err(|e| Error::Plot {
                message: e.to_string(),
            })?;
        Ok(svg)
    }

    /// Writes [`to_svg`](History::to_svg) to `path`, atomically: a reader sees the old file or
    /// the new one.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be written, [`Error::Plot`] if the picture cannot be
    /// drawn.
    pub fn write_svg(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let svg = self.to_svg()?;
        write_atomically(path, svg.as_bytes()).map_err(|e| io_error(path, e))
    }

    fn draw(
        &self,
        backend: SVGBackend<'_>,
    ) -> std::result::Result<(), Box<dyn std::error::Error + '_>> {
        let root = backend.into_drawing_area();
        root.fill(&WHITE)?;
        let train: Vec<(f64, f64)> = self
            .epochs
            .iter()
            .map(|r| (r.epoch as f64, f64::from(r.loss)))
            .collect();
        let validation: Vec<(f64, f64)> = self
            .epochs
            .iter()
            .filter_map(|r| Some((r.epoch as f64, f64::from(r.val_loss?))))
            .collect();
        let finite = || {
            train
                .iter()
                .chain(&validation)
                .map(|p| p.1)
                .filter(|v| v.is_finite())
        };
        let top = finite().fold(0.0f64, f64::max).max(f64::MIN_POSITIVE) * 1.05;
        let last = self.epochs.last().map_or(1, |r| r.epoch).max(2) as f64;
        let first = self.epochs.first().map_or(1, |r| r.epoch) as f64;

        let mut chart = ChartBuilder::on(&root)
            .caption("Loss per epoch", ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(first..last, 0.0..top)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("loss")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .draw()?;
        let finite_points = |points: &[(f64, f64)]| -> Vec<(f64, f64)> {
            points.iter().copied().filter(|p| p.1.is_finite()).collect()
        };
        let series = [
            ("training", &BLUE, finite_points(&train)),
            ("validation", &RED, finite_points(&validation)),
        ];
        for (name, color, points) in series {
            if points.is_empty() {
                continue;
            }
            let style = color.stroke_width(2);
            chart
                .draw_series(LineSeries::new(points, style))?
                .label(name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::EpochReport;

    #[test]
    fn the_picture_has_a_curve_per_loss_and_a_legend() {
        let report = |epoch: usize, val_loss| EpochReport {
            epoch,
            epochs: 3,
            loss: 1.0 / epoch as f32,
            accuracy: None,
            val_loss,
            val_accuracy: None,
            lr: 0.1,
            seconds: 0.0,
            skipped: 0,
        };
        let history = History {
            epochs: vec![
                report(1, Some(1.2)),
                report(2, Some(0.9)),
                report(3, Some(f32::NAN)),
            ],
            restored_epoch: None,
        };
        let svg = history.to_svg().unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        // A curve is a polyline in its colour with a point per finite loss, its legend a
        // two-point one.
        let points_of = |colour: &str| -> Vec<usize> {
            svg.lines()
                .filter(|line| line.starts_with("<polyline") && line.contains(colour))
                .map(|line| {
                    line.split("points=")
                        .nth(1)
                        .map_or(0, |p| p.split(' ').count() - 1)
                })
                .collect()
        };
        assert_eq!(points_of("#0000FF"), [3, 2], "training");
        assert_eq!(points_of("#FF0000"), [2, 2], "validation, without the NaN");
        for text in ["Loss per epoch", "training", "validation", "epoch"] {
            assert!(svg.contains(text), "no {text:?}");
        }
    }
}
