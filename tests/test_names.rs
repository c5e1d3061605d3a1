//! `network!` accepts any name Rust accepts for a struct or a field: generated fields, buffers
//! and type parameters step aside, and PyTorch's key for a raw label has no `r#`.

use nn::prelude::*;

/// A user type named as the buffers of a network `N` once were.
#[allow(dead_code)]
struct NBuffers;

network! { struct N { fc1: Linear(2, 3) -> ReLU -> Linear(3, 1) } }

// One-letter names that generated methods use for their type parameters.
network! { struct R { Linear(2, 3) -> Tanh -> Linear(3, 1) } }
network! { struct P { Linear(2, 1) } }
network! { struct V { Linear(2, 1) } }

const L: usize = 3;
const O: usize = 1;
network! { struct UsesConstantsNamedLikeTypeParameters { Linear(2, L) -> ReLU -> Linear(L, O) } }

// Labels that are generated names elsewhere: fields, buffers, locals.
network! {
    #[derive(Clone, Debug, PartialEq)]
    struct Collisions {
        input: Linear(2, 4) -> ReLU -> rows: Linear(4, 4) -> ReLU -> buffers: Linear(4, 4)
            -> Sigmoid -> relu: Linear(4, 4) -> ReLU -> d_fc1: Linear(4, 4) -> fc1: Linear(4, 3)
            -> linear7: Linear(3, 3) -> Linear(3, 3) -> Dropout(0.1) -> x: Linear(3, 2)
            -> network: Linear(2, 2) -> value: Linear(2, 1)
    }
}

network! { struct Keywords { r#type: Linear(2, 3) -> ReLU -> r#fn: Linear(3, 1) } }

#[test]
fn ordinary_names_declare_and_train() {
    let x = Batch::<2>::random(5, 0);
    let y = Batch::<1>::from_vec(5, vec![0.0, 1.0, 1.0, 0.0, 1.0]).unwrap();
    let adam = || Adam::new(0.01);
    N::seeded(0)
        .train_step(&x, &y, &MSELoss::new(), &mut adam())
        .unwrap();
    R::seeded(0)
        .train_step(&x, &y, &MSELoss::new(), &mut adam())
        .unwrap();
    P::seeded(0)
        .train_step(&x, &y, &MSELoss::new(), &mut adam())
        .unwrap();
    V::seeded(0)
        .train_step(&x, &y, &MSELoss::new(), &mut adam())
        .unwrap();
    let mut constants = UsesConstantsNamedLikeTypeParameters::seeded(0);
    constants
        .train_step(&x, &y, &MSELoss::new(), &mut adam())
        .unwrap();
    let mut keywords = Keywords::seeded(0);
    keywords
        .train_step(&x, &y, &MSELoss::new(), &mut SGD::new(0.1))
        .unwrap();
    assert_eq!(keywords.r#type.weight().dim(), (3, 2));
}

#[test]
fn labels_that_match_generated_names_keep_their_meaning() {
    let mut model = Collisions::seeded(0);
    assert_eq!(model.input.weight().dim(), (4, 2));
    assert_eq!(model.buffers.weight().dim(), (4, 4));
    assert_eq!(model.linear7.weight().dim(), (3, 3));
    let x = Batch::<2>::random(6, 1);
    let y = Batch::<1>::from_vec(6, vec![0.5; 6]).unwrap();
    let before = model.clone();
    let mut sgd = SGD::new(0.1);
    for _ in 0..3 {
        model.train_step(&x, &y, &MSELoss::new(), &mut sgd).unwrap();
    }
    assert_ne!(model, before);
    assert_eq!(model.forward(&x).rows(), 6);
    let mut names = Vec::new();
    model.visit_parameters(&mut |name: &str, _: &mut [f32], _: &mut [f32]| {
        names.push(name.to_owned())
    });
    assert_eq!(
        names
            .iter()
            .step_by(2)
            .map(String::as_str)
            .collect::<Vec<_>>(),
        [
            "input.weight",
            "rows.weight",
            "buffers.weight",
            "relu.weight",
            "d_fc1.weight",
            "fc1.weight",
            "linear7.weight",
            "11.weight",
            "x.weight",
            "network.weight",
            "value.weight"
        ]
    );
}

#[test]
fn a_raw_label_has_pytorchs_key_and_loads_pytorchs_file() {
    let mut names = Vec::new();
    Keywords::seeded(0).visit_tensors(&mut |name, _, _| names.push(name.to_owned()));
    assert_eq!(names, ["type.weight", "type.bias", "fn.weight", "fn.bias"]);
    let dir = std::env::temp_dir().join(format!("nn-names-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("keywords.safetensors");
    let source = Keywords::seeded(1);
    source.save_safetensors(&path).unwrap();
    let mut loaded = Keywords::seeded(2);
    loaded.load_safetensors(&path).unwrap();
    assert_eq!(loaded.r#type.weight(), source.r#type.weight());
    assert!(Keywords::seeded(0)
        .to_string()
        .contains("type (Linear(2, 3))"));
    std::fs::remove_dir_all(&dir).unwrap();
}
