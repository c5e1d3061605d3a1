// A chain that starts with an activation has no input width. The error is on `ReLU` and says
// to start with `Linear(inputs, outputs)`.
use nn::prelude::*;

network! {
    pub struct Headless {
        ReLU -> Linear(4, 2)
    }
}

fn main() {}
