// Widths given as constants are compared by the compiler. The error lands on `OTHER` and
// names the layers and constants involved, not a wall of trait bounds.
use nn::prelude::*;

const HIDDEN: usize = 32;
const OTHER: usize = 16;

network! {
    struct A {
        Linear(20, HIDDEN) -> ReLU -> Linear(OTHER, 3)
    }
}

fn main() {}
