// A network with no layers, named or anonymous: one error each, suggesting a first layer.
use nn::prelude::*;

network! {
    pub struct Empty {}
}

fn main() {
    let _anonymous = network!();
}
