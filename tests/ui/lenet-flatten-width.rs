// LeNet with the first `Linear` taking the wrong width: `Flatten` yields 16 × 5 × 5 = 400.
use nn::prelude::*;

network! {
    pub struct LeNet {
        Input(1, 28, 28)
            -> Conv2d(1, 6, 5, padding = 2) -> ReLU -> MaxPool2d(2)
            -> Conv2d(6, 16, 5) -> ReLU -> MaxPool2d(2)
            -> Flatten -> Linear(256, 120) -> ReLU -> Linear(120, 84) -> ReLU -> Linear(84, 10)
    }
}

fn main() {}
