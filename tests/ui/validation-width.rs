// Validation rows must be as wide as the training rows: the model is said not to take
// `Batch<3>`, and the training batch not to be one.
use nn::prelude::*;

network! {
    struct Net { Linear(4, 8) -> ReLU -> Linear(8, 2) }
}

fn main() {
    let mut model = Net::seeded(0);
    let (x, y) = (Batch::<4>::zeros(8), Labels::new(vec![0; 8], 2).unwrap());
    let (x_val, y_val) = (Batch::<3>::zeros(4), Labels::new(vec![0; 4], 2).unwrap());
    let _ = Trainer::new(10)
        .validate(&x_val, &y_val)
        .fit(&mut model, &x, &y, &CrossEntropyLoss::new(), &mut Adam::new(1e-3));
}
