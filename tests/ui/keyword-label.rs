// A keyword cannot be a field name as written; the error says how to write it (`r#type`), and
// `self` cannot be one at all.
use nn::prelude::*;

network! {
    struct A {
        type: Linear(4, 8) -> ReLU -> fn: Linear(8, 2) -> self: Linear(2, 1)
    }
}

fn main() {}
