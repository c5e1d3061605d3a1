//! What `network!` generates: constants, fields, names, constructors, the summary, and code that
//! compiles without warnings, without the prelude, and beside user types named like ours.
#![deny(warnings)]

use nn::prelude::*;

network! {
    /// The model from the PyTorch activation-functions tutorial.
    #[derive(Clone, Debug, PartialEq)]
    pub struct SimpleNN {
        fc1: Linear(64, 128) -> ReLU -> fc2: Linear(128, 2) -> Sigmoid
    }
}

const HIDDEN: usize = 32;
network! {
    struct Deeper {
        Linear(20, HIDDEN) -> Tanh -> Linear(HIDDEN, HIDDEN) -> LeakyReLU(0.1) -> Dropout(0.2)
            -> Linear(HIDDEN, 3) -> Softmax
    }
}

/// Swish with β = 1, written by hand.
#[derive(Debug, Clone, Copy)]
struct Swish;

impl Activation for Swish {
    fn forward(&self, x: f32) -> f32 {
        x / (1.0 + (-x).exp())
    }
    fn derivative(&self, x: f32, y: f32) -> f32 {
        let s = 1.0 / (1.0 + (-x).exp());
        y + s * (1.0 - y)
    }
}

network! {
    struct WithSwish {
        Linear(3, 4) -> Swish -> Linear(4, 1)
    }
}

/// No prelude, and a user type called `Linear` in scope.
mod without_prelude {
    #[allow(dead_code)]
    struct Linear;

    nn::network! {
        pub struct Tiny { Linear(2, 2) -> ReLU -> Linear(2, 1) }
    }
}

/// Networks named like the type parameters of the generated `train_step`.
mod named_like_type_parameters {
    use nn::prelude::*;

    network! { pub struct L { Linear(3, 4) -> ReLU -> Linear(4, 2) } }
    network! { pub struct O { Linear(3, 2) } }
}

#[test]
fn networks_named_like_type_parameters_train() {
    use named_like_type_parameters::{L, O};
    let x = Batch::<3>::random(5, 1);
    let target = Batch::<2>::random(5, 2);
    let loss = L::seeded(0).train_step(&x, &target, &MSELoss::new(), &mut Adam::new(0.01));
    assert!(loss.unwrap().is_finite());
    // Through the `Network` trait as well, whose `train_step` has the parameters `L` and `O`.
    let mut model = O::seeded(0);
    let mut adam = Adam::new(0.01);
    let loss = Network::train_step(&mut model, &x, &target, &MSELoss::new(), &mut adam);
    assert!(loss.unwrap().is_finite());
}

#[test]
fn the_issue_examples_compile_and_have_their_constants() {
    let model = nn::network!(Linear(4, 8) -> ELU(1.0) -> Linear(8, 1));
    assert_eq!(model.forward(&Batch::<4>::zeros(3)).rows(), 3);
    assert_eq!(SimpleNN::INPUT, 64);
    assert_eq!(SimpleNN::OUTPUT, 2);
    assert_eq!(SimpleNN::PARAMS, 64 * 128 + 128 + 128 * 2 + 2);
    assert_eq!(Deeper::INPUT, 20);
    assert_eq!(Deeper::OUTPUT, 3);
    assert_eq!(Deeper::PARAMS, 20 * 32 + 32 + 32 * 32 + 32 + 32 * 3 + 3);
    assert_eq!(without_prelude::Tiny::PARAMS, 2 * 2 + 2 + 2 + 1);
}

#[test]
fn fields_are_statically_shaped_and_seeded() {
    let model = SimpleNN::seeded(7);
    let _: &Linear<64, 128> = &model.fc1;
    let _: &Linear<128, 2> = &model.fc2;
    assert_eq!(model, SimpleNN::seeded(7));
    assert_ne!(model, SimpleNN::seeded(8));
    let deeper = Deeper::seeded(0);
    let _: &Linear<20, 32> = &deeper.linear0;
    let _: &Linear<32, 32> = &deeper.linear2;
    let _: &Linear<32, 3> = &deeper.linear5;
    assert_eq!(deeper.dropout4.p(), 0.2);
}

#[test]
fn parameters_have_pytorch_names_in_order() {
    let mut names = Vec::new();
    SimpleNN::seeded(0).visit_parameters(&mut |name: &str, value: &mut [f32], _: &mut [f32]| {
        names.push((name.to_owned(), value.len()))
    });
    assert_eq!(
        names,
        [
            ("fc1.weight".to_owned(), 128 * 64),
            ("fc1.bias".to_owned(), 128),
            ("fc2.weight".to_owned(), 2 * 128),
            ("fc2.bias".to_owned(), 2)
        ]
    );
    let mut keys = Vec::new();
    Deeper::seeded(0).visit_tensors(&mut |name: &str, shape: &[usize], _: &[f32]| {
        keys.push(format!("{name} {shape:?}"))
    });
    assert_eq!(
        keys,
        [
            "0.weight [32, 20]",
            "0.bias [32]",
            "2.weight [32, 32]",
            "2.bias [32]",
            "5.weight [3, 32]",
            "5.bias [3]"
        ]
    );
}

#[test]
fn display_prints_a_summary_table() {
    let summary = SimpleNN::seeded(0).to_string();
    let expected = "\
SimpleNN
layer                    output  parameters
-------------------------------------------
fc1 (Linear(64, 128))       128        8320
ReLU                        128           0
fc2 (Linear(128, 2))          2         258
Sigmoid                       2           0
-------------------------------------------
total                                  8578";
    assert_eq!(summary, expected);
}

#[test]
fn softmax_rows_sum_to_one_and_dropout_is_off_in_evaluation() {
    let model = Deeper::seeded(1);
    let x = Batch::<20>::random(5, 2);
    let first = model.forward(&x);
    assert_eq!(first, model.forward(&x), "evaluation is deterministic");
    for row in first.iter_rows() {
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
}

#[test]
fn custom_activations_are_used_by_name() {
    let model = WithSwish::seeded(0);
    let x = Batch::<3>::from_rows(&[[0.5, -1.0, 2.0]]);
    let hidden: Vec<f32> = (0..4)
        .map(|o| {
            let z = model.linear0.bias()[o]
                + (0..3)
                    .map(|i| model.linear0.weight()[[o, i]] * x.row(0)[i])
                    .sum::<f32>();
            Swish.forward(z)
        })
        .collect();
    let expected = model.linear2.bias()[0]
        + (0..4)
            .map(|i| model.linear2.weight()[[0, i]] * hidden[i])
            .sum::<f32>();
    assert!((model.forward(&x).row(0)[0] - expected).abs() < 1e-5);
}

#[test]
fn forward_into_matches_forward() {
    let mut model = SimpleNN::seeded(3);
    let x = Batch::<64>::random(9, 4);
    let mut out = Batch::zeros(0);
    model.forward_into(&x, &mut out);
    assert_eq!(out, model.forward(&x));
}
