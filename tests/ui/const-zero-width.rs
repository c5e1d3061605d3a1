// A width given as a constant must be at least 1, as a literal must: the compiler checks it and
// the error lands on the constant.
use nn::prelude::*;

const Z: usize = 0;

network! {
    struct A {
        Linear(Z, 4) -> ReLU -> Linear(4, 1)
    }
}

fn main() {}
