//! Gradient clipping by global norm.

use super::Parameters;

/// Scales all gradients of `params` so that their global L2 norm is at most `max_norm`, like
/// PyTorch's `torch.nn.utils.clip_grad_norm_(params, max_norm)` (norm type 2). Returns the
/// global norm before clipping.
///
/// The global norm is `‖g‖ = √(Σ g²)` over every gradient of every parameter tensor. When
/// `c = max_norm / (‖g‖ + 1e-6)` is below 1, every gradient is multiplied by `c`; otherwise
/// nothing changes. The 1e-6 is PyTorch's, so a norm equal to `max_norm` is scaled by a
/// factor just below 1, as in PyTorch.
///
/// NOTE: the sum of squares is accumulated in `f64` (PyTorch sums each tensor in `f32`, then
/// the per-tensor norms), so the norm can differ from PyTorch's in the last bits. Walks the
/// parameters twice and allocates nothing. A NaN norm leaves the gradients as they are (PyTorch
/// would multiply them all by NaN); an infinite one zeroes the finite gradients.
///
/// ```
/// use nn_runtime::{clip_grad_norm, ParameterVisitor, Parameters};
///
/// struct Model { w: Vec<f32>, dw: Vec<f32> }
/// impl Parameters for Model {
///     fn visit_parameters<V: ParameterVisitor + ?Sized>(&mut self, visitor: &mut V) {
///         visitor.visit("w", &mut self.w, &mut self.dw);
///     }
/// }
///
/// let mut model = Model { w: vec![0.0; 2], dw: vec![3.0, 4.0] };
/// let norm = clip_grad_norm(&mut model, 1.0);
/// assert_eq!(norm, 5.0);
/// assert!((model.dw[0] - 0.6).abs() < 1e-6 && (model.dw[1] - 0.8).abs() < 1e-6);
/// ```
///
/// # Panics
/// If `max_norm` is negative or not finite.
pub fn clip_grad_norm<P: Parameters + ?Sized>(params: &mut P, max_norm: f32) -> f32 {
    super::check_non_negative("clip_grad_norm", "max_norm", f64::from(max_norm));
    let mut sum_of_squares = 0.0f64;
    params.visit_parameters(&mut |_: &str, _: &mut [f32], grad: &mut [f32]| {
        sum_of_squares += grad
            .iter()
            .map(|&g| f64::from(g) * f64::from(g))
            .sum::<f64>();
    });
    let norm = sum_of_squares.sqrt() as f32;
    let coefficient = max_norm / (norm + 1e-6);
    if coefficient < 1.0 {
        params.visit_parameters(&mut |_: &str, _: &mut [f32], grad: &mut [f32]| {
            grad.iter_mut().for_each(|g| *g *= coefficient);
        });
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::test_support::Model;

    fn model() -> Model {
        Model {
            values: vec![vec![0.0; 3], vec![0.0; 2]],
            grads: vec![vec![1.0, -2.0, 2.0], vec![0.0, 4.0]],
        }
    }

    #[test]
    fn scales_every_tensor_by_the_global_norm() {
        let mut model = model();
        let norm = clip_grad_norm(&mut model, 2.5);
        assert_eq!(norm, 5.0); // √(1 + 4 + 4 + 16)
        let scale = 2.5 / (5.0 + 1e-6);
        assert_eq!(model.grads[0], [scale, -2.0 * scale, 2.0 * scale]);
        assert_eq!(model.grads[1], [0.0, 4.0 * scale]);
        let after = clip_grad_norm(&mut model, 2.5);
        assert!((after - 2.5).abs() < 1e-6);
        assert_eq!(model.values, [vec![0.0; 3], vec![0.0; 2]]);
    }

    #[test]
    fn leaves_small_gradients_alone() {
        let mut model = model();
        assert_eq!(clip_grad_norm(&mut model, 10.0), 5.0);
        assert_eq!(model.grads, self::model().grads);
        let mut zero = Model::one(&[1.0, 2.0]);
        assert_eq!(clip_grad_norm(&mut zero, 0.5), 0.0);
        assert_eq!(zero.grads[0], [0.0, 0.0]);
    }

    #[test]
    fn a_norm_at_the_limit_is_scaled_by_just_below_one() {
        // PyTorch's coefficient max_norm / (norm + 1e-6) is < 1 here too.
        let mut model = model();
        clip_grad_norm(&mut model, 5.0);
        assert!(model.grads[1][1] < 4.0 && model.grads[1][1] > 3.9999);
    }

    #[test]
    fn accumulates_without_overflow() {
        let mut model = Model::one(&[0.0; 2]);
        model.grads[0] = vec![3e30, 4e30];
        assert_eq!(clip_grad_norm(&mut model, 1.0), 5e30);
        assert!((model.grads[0][0] - 0.6).abs() < 1e-6);
    }
}
