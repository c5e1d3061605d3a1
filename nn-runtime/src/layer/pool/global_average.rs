//! The average of each channel over its positions: PyTorch's `AdaptiveAvgPool1d(1)` and
//! `AdaptiveAvgPool2d(1)`, the global average pooling that ends many convolutional networks.

use crate::error::{Error, Result};
use crate::layer::{rows_of, rows_of_mut};
use crate::size;

/// Each channel's average over its positions: `[C, P]` rows become `[C]` (PyTorch's
/// `[C, 1]` or `[C, 1, 1]`, the same values). The gradient goes to every position of a
/// channel, divided by their number.
///
/// ```
/// use nn_runtime::GlobalAvgPool;
///
/// let pool = GlobalAvgPool::new(2, 3)?;
/// let mut output = [0.0; 2];
/// pool.forward(1, &[1.0, 2.0, 3.0, -3.0, 0.0, 6.0], &mut output)?;
/// assert_eq!(output, [2.0, 1.0]);
/// # Ok::<(), nn_runtime::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalAvgPool {
    channels: usize,
    positions: usize,
}

impl GlobalAvgPool {
    /// Averages `channels` channels of `positions` values each (`L`, or `H·W`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for no channels or no positions, or sizes that overflow the
    /// address space.
    pub fn new(channels: usize, positions: usize) -> Result<Self> {
        if channels == 0 || positions == 0 {
            return Err(Error::InvalidArgument {
                name: "global average pool",
                message: format!(
                    "needs channels and positions, found {channels} channels of {positions}"
                ),
            });
        }
        size::checked_values(channels, positions).map_err(|_| Error::InvalidArgument {
            name: "global average pool",
            message: "its sizes overflow the address space".to_owned(),
        })?;
        Ok(GlobalAvgPool {
            channels,
            positions,
        })
    }

    /// The values of one input row, `C·P`.
    pub fn input_width(&self) -> usize {
        self.channels * self.positions
    }

    /// The values of one output row, `C`.
    pub fn output_width(&self) -> usize {
        self.channels
    }

    /// Each channel's average, for `rows` rows of `input`, into `output`.
    ///
    /// # Errors
    /// [`Error::Length`] when `input` or `output` holds fewer than `rows` rows; nothing is
    /// written then.
    pub fn forward(&self, rows: usize, input: &[f32], output: &mut [f32]) -> Result<()> {
        let input = rows_of(input, rows, self.input_width())?;
        let output = rows_of_mut(output, rows, self.channels)?;
        // As PyTorch: the sum, then one division.
        let count = self.positions as f32;
        for (average, channel) in output.iter_mut().zip(input.chunks_exact(self.positions)) {
            *average = channel.iter().sum::<f32>() / count;
        }
        Ok(())
    }

    /// The gradient with respect to `rows` rows of input, from `grad_output`: each channel's
    /// gradient divided among its positions.
    ///
    /// # Errors
    /// As [`forward`](Self::forward), for `grad_output` and `grad_input`.
    pub fn backward(&self, rows: usize, grad_output: &[f32], grad_input: &mut [f32]) -> Result<()> {
        let grad_output = rows_of(grad_output, rows, self.channels)?;
        let grad_input = rows_of_mut(grad_input, rows, self.input_width())?;
        let count = self.positions as f32;
        for (&grad, channel) in grad_output
            .iter()
            .zip(grad_input.chunks_exact_mut(self.positions))
        {
            channel.fill(grad / count);
        }
        Ok(())
    }
}

/// A global average pool of sizes `network!` has checked.
#[doc(hidden)]
pub fn global_avg_pool(channels: usize, positions: usize) -> GlobalAvgPool {
    GlobalAvgPool::new(channels, positions).unwrap_or_else(|error| crate::layer::broken(&error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_each_channel_and_spreads_its_gradient() {
        let pool = GlobalAvgPool::new(3, 4).unwrap();
        assert_eq!((pool.input_width(), pool.output_width()), (12, 3));
        let input: Vec<f32> = (0..24).map(|v| v as f32).collect();
        let mut output = vec![0.0; 6];
        pool.forward(2, &input, &mut output).unwrap();
        assert_eq!(output, [1.5, 5.5, 9.5, 13.5, 17.5, 21.5]);
        let mut grad_input = vec![9.0; 24];
        pool.backward(2, &[4.0, 8.0, -4.0, 0.0, 1.0, 2.0], &mut grad_input)
            .unwrap();
        assert_eq!(&grad_input[..8], &[1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0]);
        assert_eq!(&grad_input[20..], &[0.5; 4]);
    }

    #[test]
    fn bad_sizes_and_short_buffers_are_errors() {
        assert!(GlobalAvgPool::new(0, 4).is_err());
        assert!(GlobalAvgPool::new(4, 0).is_err());
        assert!(GlobalAvgPool::new(usize::MAX, 2).is_err());
        let pool = GlobalAvgPool::new(2, 2).unwrap();
        let mut output = [7.0; 2];
        assert!(matches!(
            pool.forward(2, &[0.0; 8], &mut output),
            Err(Error::Length { .. })
        ));
        assert_eq!(output, [7.0; 2]);
        assert!(pool.backward(1, &[0.0; 2], &mut [0.0; 3]).is_err());
    }
}
