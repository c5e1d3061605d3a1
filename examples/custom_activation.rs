//! A custom activation: Swish with a fixed β, `y = x·σ(β·x)`, named in `network!` as any
//! built-in is. The network `Linear(1, 32) -> Swish(1.5) -> Linear(32, 1)` learns `sin(x)` on
//! `[−π, π]` with `MSELoss` and `Adam(lr=0.01)`; the example prints the model summary, the loss
//! as it falls, and the fit at a few points. Its test checks the derivative by finite
//! differences.
//!
//! ```text
//! cargo run --release --example custom_activation
//! cargo test --example custom_activation
//! ```

use std::f32::consts::PI;

use nn::onnx::OnnxGraph;
use nn::prelude::*;

/// Swish with a fixed β: `y = x·σ(β·x)`, `σ(z) = 1/(1 + e⁻ᶻ)`. β = 1 is PyTorch's `SiLU`.
///
/// A tuple struct, so that `network!` takes β as its argument: `-> Swish(1.5) ->` builds
/// `Swish(1.5)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Swish(pub f32);

impl Swish {
    /// `σ(β·x)`. For a very negative `β·x`, `e^(−β·x)` overflows to infinity and σ is 0, the
    /// right limit, so no input gives a NaN.
    fn gate(&self, x: f32) -> f32 {
        1.0 / (1.0 + (-self.0 * x).exp())
    }
}

impl Activation for Swish {
    fn forward(&self, x: f32) -> f32 {
        x * self.gate(x)
    }

    /// `d/dx x·σ(βx) = σ + βx·σ·(1 − σ) = σ + β·y·(1 − σ)`: the output saves a multiplication.
    fn derivative(&self, x: f32, y: f32) -> f32 {
        let s = self.gate(x);
        s + self.0 * y * (1.0 - s)
    }

    /// `x·Sigmoid(β·x)` in standard ONNX operators, so that a network using it exports.
    fn onnx(&self, graph: &mut OnnxGraph, x: &str) -> nn::Result<String> {
        let beta = graph.constant(self.0);
        let scaled = graph.node("Mul", &[x, &beta], &[]);
        let gate = graph.node("Sigmoid", &[&scaled], &[]);
        Ok(graph.node("Mul", &[x, &gate], &[]))
    }
}

network! {
    /// A one-input regression network whose hidden layer uses [`Swish`].
    struct SineNet {
        hidden: Linear(1, 32) -> Swish(1.5) -> output: Linear(32, 1)
    }
}

/// `rows` points evenly spaced over `[−π, π]`, and `sin` of each.
fn sine(rows: usize) -> Result<(Batch<1>, Batch<1>), Error> {
    let x: Vec<f32> = (0..rows)
        .map(|i| -PI + 2.0 * PI * i as f32 / (rows - 1) as f32)
        .collect();
    let y = x.iter().map(|x| x.sin()).collect();
    Ok((Batch::from_vec(rows, x)?, Batch::from_vec(rows, y)?))
}

/// Trains a [`SineNet`] on [`sine`] for `epochs` full-batch epochs, printing some of them; returns
/// the network and every epoch's loss.
fn train(epochs: usize, print_every: usize) -> Result<(SineNet, Vec<f32>), Error> {
    let (x, y) = sine(64)?;
    let mut model = SineNet::seeded(0);
    let mut optimizer = Adam::new(0.01);
    let mut losses = Vec::with_capacity(epochs);
    for epoch in 1..=epochs {
        let loss = model.train_step(&x, &y, &MSELoss::new(), &mut optimizer)?;
        if epoch == 1 || epoch % print_every == 0 {
            println!("Epoch [{epoch}/{epochs}], Loss: {loss:.5}");
        }
        losses.push(loss);
    }
    Ok((model, losses))
}

fn main() -> Result<(), Error> {
    println!("{}\n", SineNet::seeded(0));
    let (model, _) = train(500, 100)?;

    let points = [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0];
    let fit = model.forward(&Batch::from_rows(&points.map(|x| [x])));
    println!("\n    x    sin(x)   network");
    for (x, prediction) in points.iter().zip(fit.iter_rows()) {
        println!("{x:5.1}  {:8.4}  {:8.4}", x.sin(), prediction[0]);
    }
    // The ONNX form above is what lets this network export.
    println!("\nONNX file: {} bytes", model.onnx_bytes()?.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The derivative against central differences of `forward`, in `f64` from the `f32`
    /// outputs, at negative, zero, positive and large inputs (where σ saturates to 0 or 1).
    #[test]
    fn derivative_matches_finite_differences() {
        // Rounding the f32 outputs costs about 6e-8·|y| / 2h (3e-6·|y|); truncation about
        // h²/6·|f'''| (below 1e-5 for β ≤ 2): both well inside the tolerance.
        const H: f64 = 1e-2;
        let points = [
            -80.0, -20.0, -5.0, -2.0, -1.0, -0.4, -1e-3, 0.0, 1e-3, 0.4, 1.0, 2.0, 5.0, 20.0, 80.0,
        ];
        for beta in [0.5, 1.0, 1.5, 2.0] {
            let swish = Swish(beta);
            for x in points {
                // The step actually taken, after rounding x ± h to f32.
                let (lo, hi) = ((f64::from(x) - H) as f32, (f64::from(x) + H) as f32);
                let numeric = (f64::from(swish.forward(hi)) - f64::from(swish.forward(lo)))
                    / (f64::from(hi) - f64::from(lo));
                let analytic = f64::from(swish.derivative(x, swish.forward(x)));
                let allowed = 1e-4 + 1e-3 * numeric.abs();
                assert!(
                    (analytic - numeric).abs() <= allowed,
                    "Swish({beta}): derivative at {x} is {analytic:e}, \
                     finite difference {numeric:e}"
                );
            }
        }
    }

    /// The limits and β = 1: PyTorch's `SiLU`.
    #[test]
    fn matches_silu_and_saturates() {
        for x in [-6.0, -1.0, 0.0, 0.5, 3.0] {
            assert!((Swish(1.0).forward(x) - SiLU.forward(x)).abs() < 1e-6);
        }
        assert_eq!(Swish(1.5).forward(1000.0), 1000.0);
        assert_eq!(Swish(1.5).derivative(1000.0, 1000.0), 1.0);
        assert_eq!(Swish(1.5).forward(-1000.0), 0.0);
        assert_eq!(Swish(1.5).derivative(-1000.0, 0.0), 0.0);
    }

    /// The example's training, shortened: the loss falls by more than 90%.
    #[test]
    fn the_network_learns_the_sine() {
        let (_, losses) = train(300, usize::MAX).unwrap();
        let (first, last) = (losses[0], losses[losses.len() - 1]);
        assert!(last < 0.1 * first, "loss {first} -> {last}");
    }
}
