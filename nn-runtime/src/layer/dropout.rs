//! Dropout.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha12Rng;

/// Dropout, PyTorch's `torch.nn.Dropout(p)`: in training, zeroes each value with probability `p`
/// and scales the rest by `1 / (1 − p)` (inverted dropout); in evaluation, the identity.
///
/// The mask of the last training pass is kept by the caller, so the backward pass multiplies the
/// gradient by the same values.
///
/// ```
/// use nn_runtime::Dropout;
///
/// let mut dropout = Dropout::new(0.5, 0);
/// let (mut out, mut mask) = ([0.0; 4], [0.0; 4]);
/// dropout.forward_train(&[1.0; 4], &mut out, &mut mask);
/// assert!(out.iter().all(|&v| v == 0.0 || v == 2.0));
/// ```
#[derive(Debug, Clone)]
pub struct Dropout {
    p: f32,
    seed: u64,
    /// `StdRng::seed_from_u64(seed)`'s generator, whose position can be saved.
    rng: ChaCha12Rng,
}

impl PartialEq for Dropout {
    /// Two dropouts are equal when they drop with the same probability.
    fn eq(&self, other: &Self) -> bool {
        self.p == other.p
    }
}

impl Dropout {
    /// Dropout with probability `p`, its masks drawn from a generator seeded with `seed`.
    ///
    /// `p` outside `[0, 1]` is clamped into it; `network!` rejects such values at compile time.
    pub fn new(p: f32, seed: u64) -> Self {
        Dropout {
            p: if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) },
            seed,
            rng: ChaCha12Rng::seed_from_u64(seed),
        }
    }

    /// Where the masks' random stream is: its seed, and the number of 32-bit words drawn from
    /// it. A checkpoint saves it, so that a resumed run draws the masks it would have drawn.
    pub fn stream_position(&self) -> (u64, u128) {
        (self.seed, self.rng.get_word_pos())
    }

    /// Moves the masks' random stream to a position [`stream_position`] gave.
    ///
    /// [`stream_position`]: Dropout::stream_position
    pub fn set_stream_position(&mut self, seed: u64, words: u128) {
        self.seed = seed;
        self.rng = ChaCha12Rng::seed_from_u64(seed);
        self.rng.set_word_pos(words);
    }

    /// The probability of zeroing a value.
    pub fn p(&self) -> f32 {
        self.p
    }

    /// Training pass: `output = input · mask`, drawing a new `mask` of zeros and `1/(1 − p)`.
    pub fn forward_train(&mut self, input: &[f32], output: &mut [f32], mask: &mut [f32]) {
        let keep = 1.0 - self.p;
        let scale = if keep > 0.0 { 1.0 / keep } else { 0.0 };
        for ((y, m), &x) in output.iter_mut().zip(mask.iter_mut()).zip(input) {
            *m = if self.rng.gen::<f32>() < keep {
                scale
            } else {
                0.0
            };
            *y = x * *m;
        }
    }

    /// Backward pass: multiplies `grad` by the `mask` of the training pass.
    pub fn backward(mask: &[f32], grad: &mut [f32]) {
        for (g, &m) in grad.iter_mut().zip(mask) {
            *g *= m;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_moved_to_a_saved_position_draws_the_same_masks() {
        let mut dropout = Dropout::new(0.5, 11);
        let (mut out, mut mask) = ([0.0; 37], [0.0; 37]);
        dropout.forward_train(&[1.0; 37], &mut out, &mut mask);
        let (seed, words) = dropout.stream_position();
        assert_eq!((seed, words), (11, 37));
        let mut resumed = Dropout::new(0.5, 0);
        resumed.set_stream_position(seed, words);
        let mut next = [0.0; 37];
        dropout.forward_train(&[1.0; 37], &mut out, &mut mask);
        resumed.forward_train(&[1.0; 37], &mut out, &mut next);
        assert_eq!(mask, next);
        // The generator is the one `StdRng` wraps, so the masks are those drawn before.
        let mut std = rand::rngs::StdRng::seed_from_u64(11);
        let first: Vec<f32> = (0..37).map(|_| std.gen()).collect();
        let mut chacha = ChaCha12Rng::seed_from_u64(11);
        assert_eq!(first, (0..37).map(|_| chacha.gen()).collect::<Vec<f32>>());
    }

    #[test]
    fn drops_about_p_and_keeps_the_mean() {
        let mut dropout = Dropout::new(0.2, 3);
        let n = 100_000;
        let (mut out, mut mask) = (vec![0.0; n], vec![0.0; n]);
        dropout.forward_train(&vec![1.0; n], &mut out, &mut mask);
        let dropped = out.iter().filter(|&&v| v == 0.0).count() as f32 / n as f32;
        assert!((dropped - 0.2).abs() < 0.01, "dropped {dropped}");
        let mean = out.iter().sum::<f32>() / n as f32;
        assert!((mean - 1.0).abs() < 0.01, "mean {mean}");
        let mut grad = vec![1.0; n];
        Dropout::backward(&mask, &mut grad);
        assert_eq!(grad, out);
    }

    #[test]
    fn extremes() {
        let (mut out, mut mask) = ([9.0; 3], [9.0; 3]);
        Dropout::new(1.0, 0).forward_train(&[1.0; 3], &mut out, &mut mask);
        assert_eq!(out, [0.0; 3]);
        Dropout::new(0.0, 0).forward_train(&[1.0; 3], &mut out, &mut mask);
        assert_eq!(out, [1.0; 3]);
    }
}
