// Tokens that are not a layer: after a layer, in a layer's place, a doubled arrow, and after
// the braces. One error per `network!` call, on the stray token.
use nn::prelude::*;

network! {
    pub struct AfterLayer {
        Linear(1, 2) -> ReLU 5
    }
}

network! {
    pub struct NotALayer {
        Linear(1, 2) -> 5
    }
}

network! {
    pub struct DoubleArrow {
        Linear(1, 2) -> -> ReLU
    }
}

network! {
    pub struct AfterBraces {
        Linear(1, 2)
    } extra
}

fn main() {}
