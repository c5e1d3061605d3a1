// Two layers without `->` between them: the error is on the second layer's name.
use nn::prelude::*;

network! {
    pub struct NoArrow {
        Linear(1, 2) ReLU
    }
}

fn main() {}
