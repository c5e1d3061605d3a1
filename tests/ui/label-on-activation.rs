// A label on a layer without parameters: one error, on the label, saying only `Linear` takes one.
use nn::prelude::*;

network! {
    pub struct Labelled {
        fc1: Linear(1, 2) -> act: ReLU -> fc2: Linear(2, 1)
    }
}

fn main() {}
