// A network with an error, used by `main` as usual: only the macro's error is reported, with
// no "cannot find" or type errors from the code that uses the model.
use nn::prelude::*;

network! {
    pub struct SimpleNN {
        fc1: Linear(64, 128) -> Relu -> fc2: Linear(128, 2) -> Sigmoid
    }
}

fn main() {
    let model = SimpleNN::seeded(0);
    let x = Batch::<64>::zeros(1);
    let probabilities: Batch<2> = model.forward(&x);
    println!("{} inputs, {model}", SimpleNN::INPUT);
    println!("{:?}", probabilities.row(0));
}
