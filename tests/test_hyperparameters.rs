//! A hyperparameter that would ruin the weights (NaN, infinite, negative, out of range) is
//! refused where it is set, by constructors, builders and `set_lr` alike, with a message that
//! names it.

use std::panic::{catch_unwind, AssertUnwindSafe};

use nn::optim::ParameterVisitor;
use nn::prelude::*;

/// Parameters as `(values, gradients)` pairs.
struct Pairs<'a>(&'a mut Vec<(Vec<f32>, Vec<f32>)>);

impl Parameters for Pairs<'_> {
    fn visit_parameters<V: ParameterVisitor + ?Sized>(&mut self, visitor: &mut V) {
        for (i, (value, grad)) in self.0.iter_mut().enumerate() {
            visitor.visit(&format!("p{i}"), value, grad);
        }
    }
}

/// The panic message of `f`, which must panic.
fn refusal(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("the setting was accepted");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn bad_settings_are_refused_with_their_names() {
    let cases: Vec<(String, &str)> = vec![
        (
            refusal(|| Adam::new(0.01).set_lr(f64::NAN)),
            "Adam: invalid learning rate: must be finite and at least 0, found NaN",
        ),
        (
            refusal(|| SGD::new(0.01).set_lr(-0.01)),
            "SGD: invalid learning rate: must be finite and at least 0, found -0.01",
        ),
        (
            refusal(|| RMSprop::new(0.01).set_lr(f64::INFINITY)),
            "RMSprop: invalid learning rate: must be finite and at least 0, found inf",
        ),
        (
            refusal(|| AdamW::new(0.01).set_lr(f64::NAN)),
            "Adam: invalid learning rate: must be finite and at least 0, found NaN",
        ),
        (
            refusal(|| drop(Adam::new(f64::INFINITY))),
            "Adam: invalid learning rate: must be finite and at least 0, found inf",
        ),
        (
            refusal(|| drop(SGD::new(f64::INFINITY))),
            "SGD: invalid learning rate: must be finite and at least 0, found inf",
        ),
        (
            refusal(|| drop(SGD::new(0.1).momentum(0.9).dampening(f64::NAN))),
            "SGD: invalid dampening: must be finite, found NaN",
        ),
        (
            refusal(|| drop(SGD::new(0.1).momentum(f64::NAN))),
            "SGD: invalid momentum: must be finite and at least 0, found NaN",
        ),
        (
            refusal(|| drop(SGD::new(0.1).weight_decay(f64::INFINITY))),
            "SGD: invalid weight_decay: must be finite and at least 0, found inf",
        ),
        (
            refusal(|| drop(Adam::new(0.1).betas(0.9, f64::NAN))),
            "Adam: invalid beta2: must be in [0, 1), found NaN",
        ),
        (
            refusal(|| drop(Adam::new(0.1).eps(f64::NAN))),
            "Adam: invalid eps: must be finite and at least 0, found NaN",
        ),
        (
            refusal(|| drop(AdamW::new(0.1).weight_decay(-1.0))),
            "Adam: invalid weight_decay: must be finite and at least 0, found -1",
        ),
        (
            refusal(|| drop(RMSprop::new(0.1).alpha(f64::NAN))),
            "RMSprop: invalid alpha: must be finite and at least 0, found NaN",
        ),
        (
            refusal(|| drop(RMSprop::new(0.1).momentum(f64::INFINITY))),
            "RMSprop: invalid momentum: must be finite and at least 0, found inf",
        ),
        (
            refusal(|| {
                let _ = StepLR::new(0.01, 1, f64::NAN);
            }),
            "StepLR: invalid gamma: must be finite and at least 0, found NaN",
        ),
        (
            refusal(|| {
                let _ = StepLR::new(f64::NAN, 1, 0.5);
            }),
            "StepLR: invalid base learning rate: must be finite and at least 0, found NaN",
        ),
        (
            refusal(|| {
                let _ = CosineAnnealingLR::new(0.1, 10, f64::INFINITY);
            }),
            "CosineAnnealingLR: invalid eta_min: must be finite and at least 0, found inf",
        ),
        (
            refusal(|| {
                let _ = HuberLoss::new().delta(f64::INFINITY);
            }),
            "HuberLoss: invalid delta: must be finite and above 0, found inf",
        ),
        (
            refusal(|| {
                let _ = SmoothL1Loss::new().beta(f64::NAN);
            }),
            "SmoothL1Loss: invalid beta: must be finite and at least 0, found NaN",
        ),
        (
            refusal(|| {
                let mut model = vec![(vec![0.0f32; 2], vec![1.0f32; 2])];
                clip_grad_norm(&mut Pairs(&mut model), f32::NAN);
            }),
            "clip_grad_norm: invalid max_norm: must be finite and at least 0, found NaN",
        ),
    ];
    for (message, expected) in cases {
        assert_eq!(message, expected);
    }
}

#[test]
fn good_settings_are_kept() {
    let mut adam = Adam::new(0.0).betas(0.0, 0.999).eps(0.0);
    adam.set_lr(0.5);
    assert_eq!(adam.lr(), 0.5);
    let sgd = SGD::new(0.1).momentum(0.9).dampening(1.0);
    assert_eq!(sgd.lr(), 0.1);
}
