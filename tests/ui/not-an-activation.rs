// A type that does not implement `Activation` used as a layer: the error is on its name and
// says it is not an activation.
use nn::prelude::*;

struct NotAnActivation;

network! {
    pub struct Custom {
        Linear(4, 8) -> NotAnActivation -> Linear(8, 1)
    }
}

fn main() {}
