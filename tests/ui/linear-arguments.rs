// Bad `Linear` arguments: too few, too many, zero, negative and non-integer widths.
// One error per mistake, on the argument (or on the call when one is missing).
use nn::prelude::*;

network! {
    pub struct Widths {
        Linear(64) -> Linear(64, 128, 3) -> Linear(0, 4) -> Linear(-3, 4) -> Linear(4, 2.5)
    }
}

fn main() {}
