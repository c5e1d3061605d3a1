// `Residual(chain)` computes x + chain(x), so the chain must keep the shape.
use nn::prelude::*;

network! {
    pub struct Shrinks {
        Linear(40, 100) -> ReLU -> Residual(Linear(100, 50) -> ReLU) -> Linear(100, 10)
    }
}

fn main() {}
