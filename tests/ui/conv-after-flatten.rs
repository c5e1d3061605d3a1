// A convolution after `Flatten`: the values are features now, not channels.
use nn::prelude::*;

network! {
    pub struct Flattened {
        Input(1, 40) -> Flatten -> Conv1d(1, 8, 5) -> Flatten -> Linear(288, 10)
    }
}

fn main() {}
