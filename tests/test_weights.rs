//! Weights in PyTorch's safetensors format, and the typed errors for inputs and files that do not
//! fit a network.

mod common;

use common::fixture_path;
use nn::prelude::*;

network! {
    #[derive(Debug, PartialEq)]
    struct SimpleNN { fc1: Linear(64, 128) -> ReLU -> fc2: Linear(128, 2) -> Sigmoid }
}

network! {
    #[derive(Debug, PartialEq)]
    struct Sequential { Linear(64, 128) -> ReLU -> Linear(128, 2) }
}

fn temp_file(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("nn-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn save_then_load_gives_the_same_network() {
    let original = SimpleNN::seeded(1);
    let path = temp_file("round-trip.safetensors");
    original.save_safetensors(&path).unwrap();
    let mut loaded = SimpleNN::seeded(2);
    assert_ne!(loaded, original);
    loaded.load_safetensors(&path).unwrap();
    assert_eq!(loaded, original);
    let x = Batch::<64>::random(4, 3);
    assert_eq!(loaded.forward(&x), original.forward(&x));
}

#[test]
fn a_pytorch_state_dict_loads_as_is() {
    let mut model = SimpleNN::seeded(0);
    model
        .load_safetensors(fixture_path("seed/init.safetensors"))
        .unwrap();
    let init = common::load_fixture("seed/init.safetensors");
    assert_eq!(
        model.fc1.weight().iter().copied().collect::<Vec<_>>(),
        init["fc1.weight"].data
    );
    assert_eq!(model.fc2.bias().to_vec(), init["fc2.bias"].data);
}

#[test]
fn mismatched_files_are_typed_errors_and_leave_the_network_unchanged() {
    let mut model = SimpleNN::seeded(5);
    let before = SimpleNN::seeded(5);

    // Unlabelled layers are named as in `nn.Sequential`: `0.weight`, `2.weight`.
    let sequential = temp_file("sequential.safetensors");
    Sequential::seeded(0).save_safetensors(&sequential).unwrap();
    assert_eq!(
        model.load_safetensors(&sequential),
        Err(Error::MissingTensor {
            name: "fc1.weight".into()
        })
    );

    let missing = temp_file("missing.safetensors");
    let error = model.load_safetensors(&missing).unwrap_err();
    assert!(matches!(error, Error::Io { .. }), "{error:?}");
    // The operating system's error is kept, for callers that look at its kind.
    let source = std::error::Error::source(&error).expect("a source error");
    let io = source
        .downcast_ref::<std::io::Error>()
        .expect("an I/O error");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);

    let original = std::fs::read(fixture_path("seed/init.safetensors")).unwrap();
    let truncated = temp_file("truncated.safetensors");
    std::fs::write(&truncated, &original[..original.len() - 100]).unwrap();
    assert!(matches!(
        model.load_safetensors(&truncated),
        Err(Error::Format { .. })
    ));

    // The final weights plus the per-step ones: extra tensors.
    let extra = fixture_path("seed/grads0.safetensors");
    assert_eq!(
        model.load_safetensors(extra),
        Err(Error::UnexpectedTensor {
            name: "d_fc1_out".into()
        })
    );
    assert_eq!(model, before);
}

#[test]
fn wrong_shapes_are_named() {
    network! { struct Narrow { fc1: Linear(32, 128) -> ReLU -> fc2: Linear(128, 2) } }
    let path = temp_file("narrow.safetensors");
    Narrow::seeded(0).save_safetensors(&path).unwrap();
    let error = SimpleNN::seeded(0).load_safetensors(&path).unwrap_err();
    assert_eq!(
        error,
        Error::TensorShape {
            name: "fc1.weight".into(),
            expected: vec![128, 64],
            found: vec![128, 32]
        }
    );
    assert_eq!(
        error.to_string(),
        "tensor `fc1.weight` has shape [128, 32], the network needs [128, 64]"
    );
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let mut model = SimpleNN::seeded(0);
    let x = Batch::<64>::random(4, 0);
    let mut adam = Adam::new(0.01);
    let short_target = Batch::<2>::zeros(3);
    assert_eq!(
        model.train_step(&x, &short_target, &BCELoss::new(), &mut adam),
        Err(Error::RowMismatch {
            input: 4,
            target: 3
        })
    );
    let labels = Labels::new(vec![0, 1, 2, 1], 3).unwrap();
    assert_eq!(
        model.train_step(&x, &labels, &CrossEntropyLoss::new(), &mut adam),
        Err(Error::ClassCount {
            expected: 2,
            found: 3
        })
    );
    assert_eq!(
        model.train_step(
            &Batch::zeros(0),
            &Batch::zeros(0),
            &BCELoss::new(),
            &mut adam
        ),
        Err(Error::EmptyBatch)
    );
    let mut poisoned = x.clone();
    poisoned.as_mut_slice()[0] = f32::NAN;
    let before = SimpleNN::seeded(0);
    assert!(matches!(
        model.train_step(&poisoned, &Batch::zeros(4), &MSELoss::new(), &mut adam),
        Err(Error::NonFiniteLoss { .. })
    ));
    assert_eq!(model, before, "a failed step leaves the weights alone");
    assert!(matches!(
        model.backward(&Batch::zeros(7)),
        Err(Error::RowMismatch { .. })
    ));
}

network! { struct Tiny { fc1: Linear(1, 1) } }

/// Run by [`a_failed_save_leaves_the_old_file_as_it_was`] in a child process whose files may not
/// grow past 1 KiB: saving the 34 KiB seed network over `NN_SAVE_OVER` must fail plainly.
#[test]
fn save_under_a_file_size_limit() {
    let Some(path) = std::env::var_os("NN_SAVE_OVER") else {
        return; // only as a child of the test below
    };
    let error = SimpleNN::seeded(5).save_safetensors(&path).unwrap_err();
    assert!(matches!(error, Error::Io { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.starts_with("cannot access `"), "{message}");
    assert!(
        !message.contains("Os {"),
        "a message in words, not Debug text: {message}"
    );
    println!("child: {message}");
}

#[cfg(unix)]
#[test]
fn a_failed_save_leaves_the_old_file_as_it_was() {
    let dir = temp_file("limited");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors");
    Tiny::seeded(0).save_safetensors(&path).unwrap();
    let good = std::fs::read(&path).unwrap();
    assert!(good.len() < 512);
    // `ulimit -f 2`: 1 KiB in 512-byte blocks (POSIX sh). SIGXFSZ ignored, so that the write
    // fails with EFBIG instead of killing the child.
    let child = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -f 2 && trap '' XFSZ && exec \"$0\" \"$@\"")
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "save_under_a_file_size_limit", "--nocapture"])
        .env("NN_SAVE_OVER", &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&child.stdout);
    assert!(
        child.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&child.stderr)
    );
    assert!(
        stdout.contains("child: cannot access"),
        "the child saved nothing: {stdout}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        good,
        "the old file is intact"
    );
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        [std::ffi::OsString::from("model.safetensors")],
        "no temporary file is left"
    );
    let mut loaded = Tiny::seeded(1);
    loaded.load_safetensors(&path).unwrap();
}
