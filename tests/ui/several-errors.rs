// Three independent mistakes in one call (a misspelt name, a width mismatch, a dropout
// probability out of range): all three are reported in one compile.
use nn::prelude::*;

network! {
    pub struct SimpleNN {
        fc1: Linear(64, 128) -> Relu -> fc2: Linear(64, 2) -> Dropout(1.5)
    }
}

fn main() {}
