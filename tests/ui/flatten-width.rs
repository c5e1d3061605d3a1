// After `Flatten`, a `Linear` must take channels × length inputs: 25 × 5 = 125 here.
use nn::prelude::*;

network! {
    pub struct ConvBase {
        Input(1, 40)
            -> conv1: Conv1d(1, 25, 5, stride = 2, padding = 1) -> ReLU
            -> conv2: Conv1d(25, 25, 3, stride = 2, padding = 1) -> ReLU
            -> conv3: Conv1d(25, 25, 3, stride = 2, padding = 1) -> ReLU
            -> Flatten -> linear: Linear(124, 10)
    }
}

fn main() {}
