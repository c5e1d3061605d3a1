// Convolutions' channels given as constants are compared by the compiler: the error lands on
// the second convolution's `in_channels` and names both constants.
use nn::prelude::*;

const CHANNELS: usize = 25;
const OTHER: usize = 24;

network! {
    pub struct Convs {
        Input(1, 40)
            -> conv1: Conv1d(1, CHANNELS, 5, stride = 2) -> ReLU
            -> conv2: Conv1d(OTHER, CHANNELS, 3) -> ReLU
    }
}

fn main() {}
