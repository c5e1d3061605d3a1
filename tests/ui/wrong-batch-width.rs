// A batch of the wrong width passed to a 64-wide model is a type error: expected
// `Batch<64>`, found `Batch<32>`, on the argument.
use nn::prelude::*;

network! {
    pub struct SimpleNN {
        fc1: Linear(64, 128) -> ReLU -> fc2: Linear(128, 2) -> Sigmoid
    }
}

fn main() {
    let model = SimpleNN::seeded(0);
    let _ = model.forward(&Batch::<32>::zeros(1));
}
