// A constant kernel longer than the padded input: the compiler reports it at `KERNEL` in the
// macro's words, with no overflow and no second error from the `Linear` after it.
use nn::prelude::*;

const KERNEL: usize = 7;

network! {
    pub struct Short {
        Input(2, 4) -> Conv1d(2, 8, KERNEL, padding = 1) -> Flatten -> Linear(8, 1)
    }
}

fn main() {}
