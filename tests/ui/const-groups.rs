// `groups` given as a constant must divide both channel counts; the error lands on `GROUPS`.
use nn::prelude::*;

const GROUPS: usize = 4;

network! {
    pub struct Grouped {
        Input(6, 16) -> Conv1d(6, 8, 3, groups = GROUPS) -> Flatten -> Linear(112, 1)
    }
}

fn main() {}
