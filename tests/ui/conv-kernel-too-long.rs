// A kernel longer than the padded input would leave an empty output.
use nn::prelude::*;

network! {
    pub struct Short {
        Input(2, 4) -> Conv1d(2, 8, 7, padding = 1) -> Flatten -> Linear(8, 1)
    }
}

fn main() {}
