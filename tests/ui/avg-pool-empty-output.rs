// An average pool whose window is longer than its padded input leaves an empty output; the
// error points at the kernel size.
use nn::prelude::*;

network! {
    pub struct Smoothed {
        Input(2, 6) -> Conv1d(2, 4, 3) -> ReLU
            -> AvgPool1d(kernel_size = 5, padding = 0) -> Flatten -> Linear(4, 1)
    }
}

fn main() {}
