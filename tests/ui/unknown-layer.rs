// Misspelt layer names: three errors, each on its name, each with a did-you-mean.
use nn::prelude::*;

network! {
    pub struct SimpleNN {
        linear(64, 128) -> Relu -> Linear(128, 2) -> Sigmod
    }
}

fn main() {}
