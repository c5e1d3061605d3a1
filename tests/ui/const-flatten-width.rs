// After `Flatten`, a `Linear` must take channels × length inputs; with the channels a constant,
// the compiler compares them and the message shows the product.
use nn::prelude::*;

const CHANNELS: usize = 25;

network! {
    pub struct ConvBase {
        Input(1, 40)
            -> conv1: Conv1d(1, CHANNELS, 5, stride = 2, padding = 1) -> ReLU
            -> conv2: Conv1d(CHANNELS, CHANNELS, 3, stride = 2, padding = 1) -> ReLU
            -> conv3: Conv1d(CHANNELS, CHANNELS, 3, stride = 2, padding = 1) -> ReLU
            -> Flatten -> linear: Linear(124, 10)
    }
}

fn main() {}
