//! A NaN or an infinity anywhere (inputs, targets, weights) never reaches the parameters: the
//! step fails with a typed error and leaves the model and the optimizer as they were; a step
//! that succeeds leaves every parameter finite. Over every loss and every output activation.

use nn::prelude::*;

network! { #[derive(Clone, PartialEq, Debug)] struct EndsInSigmoid { fc1: Linear(4, 8) -> ReLU -> fc2: Linear(8, 3) -> Sigmoid } }
network! { #[derive(Clone, PartialEq, Debug)] struct EndsInLinear { fc1: Linear(4, 8) -> ReLU -> fc2: Linear(8, 3) } }
network! { #[derive(Clone, PartialEq, Debug)] struct EndsInTanh { fc1: Linear(4, 8) -> Tanh -> fc2: Linear(8, 3) -> Tanh } }
network! { #[derive(Clone, PartialEq, Debug)] struct EndsInSoftmax { fc1: Linear(4, 8) -> ReLU -> fc2: Linear(8, 3) -> Softmax } }
network! { #[derive(Clone, PartialEq, Debug)] struct EndsInLogSoftmax { fc1: Linear(4, 8) -> GELU -> fc2: Linear(8, 3) -> LogSoftmax } }
network! { #[derive(Clone, PartialEq, Debug)] struct EndsInReLU { fc1: Linear(4, 8) -> Sigmoid -> fc2: Linear(8, 3) -> ReLU } }

const ROWS: usize = 8;
const BAD: [f32; 3] = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY];

fn inputs() -> Batch<4> {
    Batch::random(ROWS, 1)
}

fn probabilities() -> Batch<3> {
    Batch::from_vec(ROWS, (0..ROWS * 3).map(|i| (i % 2) as f32).collect()).unwrap()
}

fn classes() -> Labels {
    Labels::new((0..ROWS).map(|i| i % 3).collect(), 3).unwrap()
}

/// Every parameter's bits, in visiting order.
fn parameter_bits<N: Parameters>(model: &mut N) -> Vec<u32> {
    let mut bits = Vec::new();
    model.visit_parameters(&mut |_: &str, value: &mut [f32], _: &mut [f32]| {
        bits.extend(value.iter().map(|v| v.to_bits()));
    });
    bits
}

fn all_finite<N: Parameters>(model: &mut N) -> bool {
    parameter_bits(model)
        .into_iter()
        .all(|b| f32::from_bits(b).is_finite())
}

/// A value written into the model before the bad step, and put back after it: the function
/// writes a value into one weight and returns the one it replaced.
type Poison<'a, N> = Option<(&'a dyn Fn(&mut N, f32) -> f32, f32)>;

/// A failed step on `x` and `target` (after `poison`, if any): an error of the non-finite kind,
/// the parameters bit for bit as before, and a model and optimizer that go on exactly as a pair
/// that never saw the step (checked by one more, good step, once the weight is mended).
fn assert_rejected<N, L>(
    model: &N,
    (x, target): (&Batch<4>, &L::Target),
    good_target: &L::Target,
    loss: &L,
    poison: Poison<'_, N>,
    what: &str,
) where
    N: Network<4, 3> + Clone + PartialEq + std::fmt::Debug,
    L: Loss<3>,
{
    for mut optimizer in [Adam::new(0.01), Adam::new(0.01).weight_decay(0.1)] {
        let mut warm = model.clone();
        // A first good step gives the optimizer state worth corrupting.
        let warm_up = warm.train_step(&inputs(), good_target, loss, &mut optimizer);
        assert!(warm_up.is_ok(), "{what}: the good step failed: {warm_up:?}");
        let (mut untouched, mut untouched_optimizer) = (warm.clone(), optimizer.clone());
        let mend = poison.map(|(write, bad)| (write, write(&mut warm, bad)));
        let before = parameter_bits(&mut warm);
        let error = warm.train_step(x, target, loss, &mut optimizer);
        assert!(
            error.as_ref().is_err_and(Error::is_non_finite),
            "{what}: {error:?}"
        );
        assert_eq!(
            parameter_bits(&mut warm),
            before,
            "{what}: parameters changed"
        );
        if let Some((write, good)) = mend {
            write(&mut warm, good);
        }
        let next = warm.train_step(&inputs(), good_target, loss, &mut optimizer);
        let expected = untouched.train_step(&inputs(), good_target, loss, &mut untouched_optimizer);
        assert_eq!(next, expected, "{what}: the optimizer's state changed");
        assert_eq!(warm, untouched, "{what}");
        assert!(all_finite(&mut warm), "{what}");
    }
}

/// Each bad value in each input column, in the target (where it is made of floats), and in
/// each parameter tensor set by hand.
fn check_network<N, L>(model: N, loss: L, target: Batch<3>, float_target: bool, name: &str)
where
    N: Network<4, 3> + Clone + PartialEq + std::fmt::Debug,
    L: Loss<3, Target = Batch<3>>,
{
    for bad in BAD {
        for at in [0, 5, 4 * ROWS - 1] {
            let mut x = inputs();
            x.as_mut_slice()[at] = bad;
            let what = format!("{name}: input[{at}] = {bad}");
            assert_rejected(&model, (&x, &target), &target, &loss, None, &what);
        }
        if float_target {
            let mut poisoned = target.clone();
            poisoned.as_mut_slice()[7] = bad;
            let what = format!("{name}: target[7] = {bad}");
            assert_rejected(&model, (&inputs(), &poisoned), &target, &loss, None, &what);
        }
    }
}

fn check_labelled<N, L>(model: N, loss: L, name: &str)
where
    N: Network<4, 3> + Clone + PartialEq + std::fmt::Debug,
    L: Loss<3, Target = Labels>,
{
    for bad in BAD {
        for at in [0, 5, 4 * ROWS - 1] {
            let mut x = inputs();
            x.as_mut_slice()[at] = bad;
            let what = format!("{name}: input[{at}] = {bad}");
            assert_rejected(&model, (&x, &classes()), &classes(), &loss, None, &what);
        }
    }
}

#[test]
fn bad_inputs_and_targets_never_reach_the_parameters() {
    let targets = probabilities();
    // Every float loss after every output activation; BCE needs probabilities.
    check_network(
        EndsInSigmoid::seeded(0),
        BCELoss::new(),
        targets.clone(),
        true,
        "Sigmoid + BCE",
    );
    check_network(
        EndsInSigmoid::seeded(0),
        MSELoss::new(),
        targets.clone(),
        true,
        "Sigmoid + MSE",
    );
    check_network(
        EndsInLinear::seeded(0),
        MSELoss::new(),
        targets.clone(),
        true,
        "Linear + MSE",
    );
    check_network(
        EndsInTanh::seeded(0),
        MSELoss::new(),
        targets.clone(),
        true,
        "Tanh + MSE",
    );
    check_network(
        EndsInSoftmax::seeded(0),
        MSELoss::new(),
        targets.clone(),
        true,
        "Softmax + MSE",
    );
    check_network(
        EndsInLogSoftmax::seeded(0),
        MSELoss::new(),
        targets.clone(),
        true,
        "LogSoftmax + MSE",
    );
    check_network(
        EndsInReLU::seeded(0),
        MSELoss::new(),
        targets.clone(),
        true,
        "ReLU + MSE",
    );
    check_network(
        EndsInLinear::seeded(0),
        L1Loss::new(),
        targets.clone(),
        true,
        "Linear + L1",
    );
    check_network(
        EndsInTanh::seeded(0),
        SmoothL1Loss::new(),
        targets.clone(),
        true,
        "Tanh + SmoothL1",
    );
    check_network(
        EndsInReLU::seeded(0),
        HuberLoss::new(),
        targets.clone(),
        true,
        "ReLU + Huber",
    );
    check_network(
        EndsInLinear::seeded(0),
        BCEWithLogitsLoss::new(),
        targets.clone(),
        true,
        "Linear + BCEWithLogits",
    );
    check_network(
        EndsInSoftmax::seeded(0),
        BCELoss::new(),
        targets,
        true,
        "Softmax + BCE",
    );
    check_labelled(
        EndsInLinear::seeded(0),
        CrossEntropyLoss::new(),
        "Linear + CrossEntropy",
    );
    check_labelled(
        EndsInSoftmax::seeded(0),
        CrossEntropyLoss::new().label_smoothing(0.1),
        "Softmax + CrossEntropy",
    );
    check_labelled(
        EndsInLogSoftmax::seeded(0),
        NLLLoss::new(),
        "LogSoftmax + NLL",
    );
}

#[test]
fn bad_weights_set_by_hand_stop_the_step() {
    let first = |m: &mut EndsInSigmoid, v| std::mem::replace(&mut m.fc1.weight_mut()[[0, 0]], v);
    let later = |m: &mut EndsInSigmoid, v| std::mem::replace(&mut m.fc1.weight_mut()[[7, 3]], v);
    let last = |m: &mut EndsInSigmoid, v| std::mem::replace(&mut m.fc2.weight_mut()[[2, 7]], v);
    let bias = |m: &mut EndsInLinear, v| std::mem::replace(&mut m.fc2.bias_mut()[1], v);
    let (t, labels) = (probabilities(), classes());
    let (x, bce, ce) = (inputs(), BCELoss::new(), CrossEntropyLoss::new());
    for bad in BAD {
        let model = EndsInSigmoid::seeded(0);
        for (write, what) in [
            (
                &first as &dyn Fn(&mut EndsInSigmoid, f32) -> f32,
                "fc1.weight[0, 0]",
            ),
            (&later, "fc1.weight[7, 3]"),
            (&last, "fc2.weight[2, 7]"),
        ] {
            let what = format!("{what} = {bad}");
            assert_rejected(&model, (&x, &t), &t, &bce, Some((write, bad)), &what);
        }
        let what = format!("fc2.bias[1] = {bad}");
        let model = EndsInLinear::seeded(0);
        assert_rejected(
            &model,
            (&x, &labels),
            &labels,
            &ce,
            Some((&bias, bad)),
            &what,
        );
    }
}

#[test]
fn a_weights_file_with_a_nan_or_an_infinity_is_refused() {
    let dir = std::env::temp_dir().join(format!("nn-non-finite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, bad) in BAD.into_iter().enumerate() {
        let mut source = EndsInSigmoid::seeded(1);
        source.fc2.weight_mut()[[2, 5]] = bad;
        let path = dir.join(format!("bad{i}.safetensors"));
        source.save_safetensors(&path).unwrap();
        let mut model = EndsInSigmoid::seeded(0);
        let before = model.clone();
        let error = model.load_safetensors(&path).unwrap_err();
        assert!(
            matches!(&error, Error::NonFiniteTensor { name, index: 21, .. } if name == "fc2.weight"),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!("tensor `fc2.weight` holds {bad} at index 21; weights must be finite")
        );
        assert_eq!(model, before, "a refused file leaves the model alone");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn steps_that_succeed_leave_every_parameter_finite() {
    // Large but finite inputs and an aggressive learning rate: whatever happens is either an
    // error or finite parameters.
    let mut model = EndsInLinear::seeded(3);
    let mut optimizer = SGD::new(10.0);
    let mut x = inputs();
    x.as_mut_slice().iter_mut().for_each(|v| *v *= 1e18);
    let target = probabilities();
    for _ in 0..50 {
        match model.train_step(&x, &target, &MSELoss::new(), &mut optimizer) {
            Ok(loss) => assert!(loss.is_finite() && all_finite(&mut model)),
            Err(error) => assert!(error.is_non_finite(), "{error:?}"),
        }
    }
}

#[test]
fn the_trainer_names_the_epoch_and_rows_of_a_bad_batch_or_skips_it() {
    let mut x: Batch<4> = Batch::random(12, 2);
    x.as_mut_slice()[4 * 5 + 2] = f32::NAN; // row 5, in the second batch of four
    let y = classes_for(12);
    let mut model = EndsInLinear::seeded(0);
    let mut expected = model.clone();
    let mut optimizer = Adam::new(0.01);
    let error = Trainer::new(3)
        .batch_size(4)
        .quiet()
        .fit(&mut model, &x, &y, &CrossEntropyLoss::new(), &mut optimizer)
        .unwrap_err();
    let Error::Batch {
        epoch,
        batch,
        rows,
        cause,
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!((*epoch, *batch, &rows[..]), (1, 2, &[4, 5, 6, 7][..]));
    assert!(cause.is_non_finite(), "{cause:?}");
    assert!(
        error
            .to_string()
            .starts_with("epoch 1, batch 2 (rows 4, 5, 6, 7): "),
        "{error}"
    );
    assert!(std::error::Error::source(&error).is_some());
    // The model keeps the weights of the first batch's step.
    let first: Vec<usize> = (0..4).collect();
    let (mut bx, mut by) = (Batch::zeros(4), y.clone());
    x.gather_into(&first, &mut bx);
    y.gather_into(&first, &mut by);
    expected
        .train_step(&bx, &by, &CrossEntropyLoss::new(), &mut Adam::new(0.01))
        .unwrap();
    assert_eq!(model, expected);

    let mut skipping = EndsInLinear::seeded(0);
    let reports = Trainer::new(3)
        .batch_size(4)
        .shuffle(7)
        .quiet()
        .skip_non_finite()
        .fit(
            &mut skipping,
            &x,
            &y,
            &CrossEntropyLoss::new(),
            &mut Adam::new(0.01),
        )
        .unwrap();
    for report in &reports {
        assert_eq!(report.skipped, 1);
        assert!(report.loss.is_finite() && report.accuracy.unwrap().is_finite());
        assert!(
            report.to_string().ends_with(", Skipped batches: 1"),
            "{report}"
        );
    }
    assert!(all_finite(&mut skipping));
}

fn classes_for(rows: usize) -> Labels {
    Labels::new((0..rows).map(|i| i % 3).collect(), 3).unwrap()
}
