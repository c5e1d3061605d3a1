// Bad activation and dropout arguments: wrong type, out of range, unexpected, unknown choice,
// unknown keyword. One error per mistake, on the argument, saying what was expected.
use nn::prelude::*;

network! {
    pub struct Activations {
        Linear(4, 8) -> LeakyReLU("x") -> Dropout(1.5) -> ReLU(3) -> GELU("fast") -> LeakyReLU(slope = 0.2)
    }
}

fn main() {}
