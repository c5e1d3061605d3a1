// A `Linear` whose input width disagrees with the layer before it. The error names both
// layers and both widths, and points at fc2's `64`.
use nn::prelude::*;

network! {
    pub struct SimpleNN {
        fc1: Linear(64, 128) -> ReLU -> fc2: Linear(64, 2) -> Sigmoid
    }
}

fn main() {}
