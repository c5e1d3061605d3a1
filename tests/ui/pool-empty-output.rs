// A pool whose window is larger than its input leaves an empty output.
use nn::prelude::*;

network! {
    pub struct Pooled {
        Input(1, 28, 28)
            -> Conv2d(1, 6, 5) -> ReLU -> MaxPool2d(2)
            -> Conv2d(6, 16, 5) -> ReLU -> MaxPool2d(2)
            -> Conv2d(16, 32, 3) -> ReLU -> MaxPool2d(4)
            -> Flatten -> Linear(32, 10)
    }
}

fn main() {}
