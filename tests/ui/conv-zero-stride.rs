// A stride of 0 is refused, as PyTorch refuses it.
use nn::prelude::*;

network! {
    pub struct Still {
        Input(1, 16) -> Conv1d(1, 4, 3, stride = 0) -> Flatten -> Linear(56, 1)
    }
}

fn main() {}
