// A `->` with no layer after it: the error is on the arrow and says to remove it.
use nn::prelude::*;

network! {
    pub struct Dangling {
        Linear(1, 2) -> ReLU ->
    }
}

fn main() {}
