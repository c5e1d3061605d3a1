//! The sizes a sliding window gives, as `const fn`s: when a network's sizes are constants,
//! generated code computes its shapes with these, and the compiler evaluates them.
//!
//! They never panic. Where PyTorch would refuse the settings they return 0, so that a type such
//! as `Batch<{ 8 * window_output(40, KERNEL, 1, 0, 1) }>` stays well formed and the user sees
//! `network!`'s own message about the setting, not an overflow in a constant.

/// The samples a window of `kernel` taps, each `dilation` after the one before, spans:
/// `dilation·(kernel − 1) + 1`. A window with no taps spans none.
///
/// ```
/// use nn_runtime::private::window_reach;
///
/// assert_eq!(window_reach(3, 1), 3);
/// assert_eq!(window_reach(3, 2), 5);
/// assert_eq!(window_reach(0, 2), 0);
/// ```
pub const fn window_reach(kernel: usize, dilation: usize) -> usize {
    match kernel {
        0 => 0,
        _ => dilation.saturating_mul(kernel - 1).saturating_add(1),
    }
}

/// The outputs along an axis of `length` samples, with `padding` zeros added at each end, of a
/// window of `kernel` taps `dilation` apart that moves `stride` samples at a time: PyTorch's
/// `⌊(length + 2·padding − dilation·(kernel − 1) − 1) / stride⌋ + 1`, as `Conv1d` and
/// `MaxPool1d` document it.
///
/// 0 where PyTorch has no output: a window wider than the padded input, or no taps, stride or
/// dilation; and for an input of no samples, so that the length after several windows is 0
/// when any of them has no output.
///
/// ```
/// use nn_runtime::private::window_output;
///
/// // MNIST-1D's first convolution: `Conv1d(1, 25, 5, stride=2, padding=1)` on 40 samples.
/// assert_eq!(window_output(40, 5, 2, 1, 1), 19);
/// assert_eq!(window_output(4, 7, 1, 1, 1), 0);
/// assert_eq!(window_output(4, 3, 0, 0, 1), 0);
/// ```
pub const fn window_output(
    length: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
) -> usize {
    let padded = length.saturating_add(padding.saturating_mul(2));
    let reach = window_reach(kernel, dilation);
    if length == 0 || reach == 0 || stride == 0 || dilation == 0 || reach > padded {
        return 0;
    }
    (padded - reach) / stride + 1
}

/// The input channels each group of a grouped convolution reads, `channels / groups`; 0 for no
/// groups.
///
/// ```
/// use nn_runtime::private::per_group;
///
/// assert_eq!(per_group(24, 3), 8);
/// assert_eq!(per_group(24, 0), 0);
/// ```
pub const fn per_group(channels: usize, groups: usize) -> usize {
    match groups {
        0 => 0,
        _ => channels / groups,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::{Conv1dSettings, MaxPool1d};

    #[test]
    fn window_output_agrees_with_the_layers() {
        for length in 1..12 {
            for kernel in 1..6 {
                for stride in 1..4 {
                    for padding in 0..3 {
                        for dilation in 1..3 {
                            let settings = Conv1dSettings::new(1, 1, kernel, length)
                                .stride(stride)
                                .padding(padding)
                                .dilation(dilation);
                            let expected = settings.output_length().unwrap_or(0);
                            assert_eq!(
                                window_output(length, kernel, stride, padding, dilation),
                                expected,
                                "{settings:?}"
                            );
                        }
                        if 2 * padding <= kernel {
                            let pool = MaxPool1d::new(1, length, kernel, stride, padding);
                            let expected = pool.map_or(0, |pool| pool.output_length());
                            assert_eq!(window_output(length, kernel, stride, padding, 1), expected);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn settings_pytorch_refuses_give_no_output() {
        assert_eq!(window_output(10, 0, 1, 0, 1), 0);
        assert_eq!(window_output(10, 3, 0, 0, 1), 0);
        assert_eq!(window_output(10, 3, 1, 0, 0), 0);
        assert_eq!(window_output(0, 3, 1, 2, 1), 0);
        assert_eq!(
            window_output(usize::MAX, 3, 1, usize::MAX, 1),
            usize::MAX - 2
        );
        assert_eq!(window_reach(usize::MAX, usize::MAX), usize::MAX);
    }
}
