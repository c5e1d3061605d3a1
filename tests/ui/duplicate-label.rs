// The same label on two layers: one error, on the second `fc`.
use nn::prelude::*;

network! {
    pub struct Twice {
        fc: Linear(1, 2) -> ReLU -> fc: Linear(2, 1)
    }
}

fn main() {}
