// Validation targets must be of the training targets' kind: class labels here, not values.
use nn::prelude::*;

network! {
    struct Net { Linear(4, 8) -> ReLU -> Linear(8, 2) }
}

fn main() {
    let mut model = Net::seeded(0);
    let (x, y) = (Batch::<4>::zeros(8), Labels::new(vec![0; 8], 2).unwrap());
    let (x_val, y_val) = (Batch::<4>::zeros(4), Batch::<2>::zeros(4));
    let _ = Trainer::new(10)
        .validate(&x_val, &y_val)
        .fit(&mut model, &x, &y, &CrossEntropyLoss::new(), &mut Adam::new(1e-3));
}
