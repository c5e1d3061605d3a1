// A convolution whose input channels are not the channels the layer before yields.
use nn::prelude::*;

network! {
    pub struct Convs {
        Input(1, 40)
            -> conv1: Conv1d(1, 25, 5, stride = 2) -> ReLU
            -> conv2: Conv1d(24, 25, 3) -> ReLU
            -> Flatten -> Linear(400, 10)
    }
}

fn main() {}
