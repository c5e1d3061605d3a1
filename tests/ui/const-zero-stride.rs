// A stride given as a constant must be at least 1, as a literal must.
use nn::prelude::*;

const STRIDE: usize = 0;

network! {
    pub struct Still {
        Input(1, 16) -> Conv1d(1, 4, 3, stride = STRIDE) -> Flatten -> Linear(56, 1)
    }
}

fn main() {}
