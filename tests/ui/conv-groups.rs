// `groups` must divide both channel counts.
use nn::prelude::*;

network! {
    pub struct Grouped {
        Input(6, 16) -> Conv1d(6, 8, 3, groups = 4) -> Flatten -> Linear(112, 1)
    }
}

fn main() {}
