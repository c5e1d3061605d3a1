// Convolution sizes are integer literals.
use nn::prelude::*;

const KERNEL: usize = 5;

network! {
    pub struct Constant {
        Input(1, 40) -> Conv1d(1, 8, KERNEL) -> Flatten -> Linear(288, 10)
    }
}

fn main() {}
