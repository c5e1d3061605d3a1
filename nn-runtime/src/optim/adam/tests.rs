use super::pass::{Moments3, BLOCK};
use super::*;
use crate::optim::lerp;
use crate::optim::subnormal::is_subnormal;
use crate::optim::test_support::{
    assert_zero_gradient_is_a_no_op, awkward_gradients, awkward_value, check_fixture, Model,
};
use proptest::prelude::*;

#[test]
fn matches_pytorch_bit_for_bit() {
    assert_eq!(check_fixture(&mut Adam::new(1e-3), "adam", 0.0), 0);
}

#[test]
fn matches_pytorch_with_weight_decay_bit_for_bit() {
    let mut adam = Adam::new(1e-3).weight_decay(0.01);
    assert_eq!(check_fixture(&mut adam, "adam_wd0p01", 0.0), 0);
}

#[test]
fn matches_pytorch_with_amsgrad_bit_for_bit() {
    let mut adam = Adam::new(1e-3).amsgrad(true);
    assert_eq!(check_fixture(&mut adam, "adam_amsgrad", 0.0), 0);
}

#[test]
fn defaults_and_builder() {
    let adam = Adam::default();
    assert_eq!(
        (adam.lr(), adam.beta1, adam.beta2, adam.eps),
        (1e-3, 0.9, 0.999, 1e-8)
    );
    assert_eq!(
        (adam.weight_decay, adam.amsgrad, adam.decoupled),
        (0.0, false, false)
    );
    let mut adam = Adam::new(0.5).betas(0.8, 0.99).eps(1e-6).weight_decay(0.1);
    assert_eq!(
        (adam.beta1, adam.beta2, adam.eps, adam.weight_decay),
        (0.8, 0.99, 1e-6, 0.1)
    );
    adam.set_lr(0.25);
    assert_eq!(adam.lr(), 0.25);
}

#[test]
#[should_panic(expected = "invalid beta2")]
fn rejects_a_beta_of_one() {
    let _ = Adam::new(1e-3).betas(0.9, 1.0);
}

#[test]
fn state_is_allocated_once() {
    let mut adam = Adam::new(1e-2).amsgrad(true);
    let mut model = Model {
        values: vec![vec![1.0; 4], vec![2.0; 3]],
        grads: vec![vec![0.5; 4], vec![-0.5; 3]],
    };
    adam.step(&mut model);
    let pointers: Vec<_> = adam.state.iter().map(|s| s.exp_avg.as_ptr()).collect();
    for _ in 0..3 {
        adam.step(&mut model);
    }
    let after: Vec<_> = adam.state.iter().map(|s| s.exp_avg.as_ptr()).collect();
    assert_eq!((adam.state.len(), pointers), (2, after));
    assert_eq!(adam.steps(), 4);
}

#[test]
fn large_beta1_uses_the_other_lerp_branch() {
    // 1 − β₁ ≥ 0.5 interpolates from the end: still the exact lerp to rounding.
    assert_eq!(lerp(2.0, 4.0, 0.75), 3.5);
    assert_eq!(lerp(2.0, 4.0, 0.25), 2.5);
    let mut adam = Adam::new(0.1).betas(0.2, 0.5);
    let mut model = Model::one(&[1.0]);
    model.grads[0][0] = 2.0;
    adam.step(&mut model);
    assert!((model.values[0][0] - 0.9).abs() < 1e-6);
}

#[test]
fn subnormal_shortcut_is_bit_exact() {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let configs = [
        Adam::new(1e-3),
        Adam::new(0.5),
        Adam::new(1e-2).betas(0.5, 0.9),
        Adam::new(1e-2).betas(0.2, 0.99),
        Adam::new(1e-3).eps(0.0),
        Adam::new(1e-3).weight_decay(0.01),
        Adam::decoupled(1e-2),
        Adam::decoupled(1e-2).weight_decay(0.5),
    ];
    for (c, config) in configs.into_iter().enumerate() {
        for step in [1u64, 2, 10, 1000] {
            let (s, mut p, g, mut m, mut v) = awkward_lanes(&config, step, 1000 + c, &mut rng);
            let lanes = (&mut p[..], &g[..], &mut m[..], &mut v[..]);
            assert_pass_is_exact(&s, lanes, &format!("config {c}, step {step}"));
        }
    }
}

/// `config`'s scalars for step `step`, and `n` lanes of awkward parameters, gradients and
/// moments `(p, g, m, v)` for the subnormal shortcuts.
fn awkward_lanes(
    config: &Adam,
    step: u64,
    n: usize,
    rng: &mut impl rand::Rng,
) -> (Scalars, Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut adam = config.clone();
    adam.step = step - 1;
    adam.begin_step();
    let p = (0..n).map(|_| awkward_value(rng)).collect();
    let g = awkward_gradients(rng, n, 0);
    let m = (0..n).map(|_| awkward_value(rng)).collect();
    let v = (0..n).map(|_| awkward_value(rng).abs()).collect();
    (adam.scalars, p, g, m, v)
}

/// Runs [`adam_pass`] over the lanes and checks each against [`Scalars::update`], bit for
/// bit.
fn assert_pass_is_exact(
    s: &Scalars,
    (p, g, m, v): (&mut [f32], &[f32], &mut [f32], &mut [f32]),
    context: &str,
) {
    let expected: Vec<(f32, f32, f32)> = (0..p.len())
        .map(|i| s.update(p[i], g[i], m[i], v[i]))
        .collect();
    adam_pass(s, p, g, m, v);
    for (i, &(ep, em, ev)) in expected.iter().enumerate() {
        assert_eq!(
            (p[i].to_bits(), m[i].to_bits(), v[i].to_bits()),
            (ep.to_bits(), em.to_bits(), ev.to_bits()),
            "{context}, element {i}: g {:e}",
            g[i]
        );
    }
}

#[test]
fn amsgrad_subnormal_shortcut_is_bit_exact() {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let configs = [
        Adam::new(1e-3).amsgrad(true),
        Adam::new(0.5).betas(0.5, 0.9).amsgrad(true),
        Adam::decoupled(1e-2).amsgrad(true),
    ];
    for (c, config) in configs.into_iter().enumerate() {
        for step in [1u64, 10, 1000] {
            let n = 1000 + c;
            let (s, mut p, g, mut m, mut v) = awkward_lanes(&config, step, n, &mut rng);
            let mut v_max: Vec<f32> = (0..n).map(|_| awkward_value(&mut rng).abs()).collect();
            let expected: Vec<(f32, Moments3)> = (0..n)
                .map(|i| s.update_amsgrad(p[i], g[i], (m[i], v[i], v_max[i])))
                .collect();
            amsgrad_pass(&s, &mut p, &g, (&mut m, &mut v), &mut v_max);
            for (i, &(ep, (em, ev, emax))) in expected.iter().enumerate() {
                let bits = |x: f32| x.to_bits();
                assert_eq!(
                    [bits(p[i]), bits(m[i]), bits(v[i]), bits(v_max[i])],
                    [bits(ep), bits(em), bits(ev), bits(emax)],
                    "config {c}, step {step}, element {i}: g {:e}",
                    g[i]
                );
            }
        }
    }
}

#[test]
fn a_dead_unit_keeps_its_stuck_first_moment() {
    // 0.9·k rounds back to k for k ≤ 4: the moment of a unit with no gradient stays at a
    // few multiples of the smallest subnormal for ever, and the shortcut must keep it there.
    let mut adam = Adam::new(1e-2);
    adam.begin_step();
    let smallest = f32::from_bits(1);
    let mut m = vec![smallest, 4.0 * smallest, 5.0 * smallest, -3.0 * smallest];
    let (mut p, g, mut v) = (vec![0.5; 4], vec![0.0; 4], vec![1e-6; 4]);
    adam_pass(&adam.scalars, &mut p, &g, &mut m, &mut v);
    assert_eq!(
        m,
        [smallest, 4.0 * smallest, 4.0 * smallest, -3.0 * smallest]
    );
    assert_eq!(p, [0.5; 4]);
}

#[test]
fn adamw_decays_a_dead_unit_into_the_subnormals_bit_for_bit() {
    // A dead unit under AdamW: stuck first moment, zero gradient, and a weight that the
    // decay takes below the shortcut's floor and then into the subnormals. Step by step,
    // the pass must give the plain formula's bits.
    let mut adam = Adam::decoupled(1e-2).weight_decay(0.5);
    let smallest = f32::from_bits(1);
    let n = 3 * BLOCK;
    let mut p: Vec<f32> = (0..n)
        .map(|i| match i % 4 {
            0 => f32::powi(2.0, -70),
            1 => -f32::powi(2.0, -100) * 1.5,
            2 => f32::MIN_POSITIVE * 1.25,
            _ => -smallest * (1000 + i) as f32,
        })
        .collect();
    let mut m: Vec<f32> = (0..n).map(|i| smallest * (i % 6 * 37) as f32).collect();
    let mut v: Vec<f32> = (0..n).map(|i| 1e-30 * (i + 1) as f32).collect();
    // A live lane in each block keeps the blocks mixed.
    let g: Vec<f32> = (0..n)
        .map(|i| if i % BLOCK == 7 { 1e-3 } else { 0.0 })
        .collect();
    for step in 1..=200 {
        adam.begin_step();
        let lanes = (&mut p[..], &g[..], &mut m[..], &mut v[..]);
        assert_pass_is_exact(&adam.scalars, lanes, &format!("step {step}"));
    }
    assert!(
        p.iter().any(|&p| is_subnormal(p)),
        "some weights end subnormal"
    );
}

proptest! {
    #[test]
    fn zero_gradient_changes_nothing(
        values in proptest::collection::vec(-1e3f32..1e3, 1..20),
        lr in 1e-4f64..1.0,
        beta1 in 0.0f64..0.99,
        beta2 in 0.0f64..0.9999,
        amsgrad: bool,
    ) {
        let mut adam = Adam::new(lr).betas(beta1, beta2).amsgrad(amsgrad);
        assert_zero_gradient_is_a_no_op(&mut adam, &values);
    }
}
