// A `Linear` straight after a convolution: the channels need `Flatten` first.
use nn::prelude::*;

network! {
    pub struct Unflattened {
        Input(1, 40) -> conv: Conv1d(1, 8, 5) -> ReLU -> Linear(288, 10)
    }
}

fn main() {}
