//! Helpers for the tests: closeness checks and PyTorch fixtures. Not shipped: the runtime's
//! unit tests compile it as a module, and the integration tests include the same file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors};

/// A tensor read from a fixture: its shape and values, widened to `f32` (`I64` too).
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// The shape, outermost first.
    pub shape: Vec<usize>,
    /// The values, row-major.
    pub data: Vec<f32>,
}

impl Tensor {
    /// The values as class indices (for `I64` targets).
    pub fn indices(&self) -> Vec<usize> {
        self.data.iter().map(|&v| v as usize).collect()
    }
}

/// The repository's `tests/fixtures` folder: the nearest one above the crate being tested
/// (the runtime or the facade).
///
/// # Panics
/// If there is none.
pub fn fixtures_dir() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .map(|folder| folder.join("tests").join("fixtures"))
        .find(|fixtures| fixtures.is_dir())
        .unwrap_or_else(|| panic!("no tests/fixtures above {}", manifest_dir.display()))
}

/// Every tensor of `tests/fixtures/<relative>`, by name.
///
/// # Panics
/// If the file is missing or not valid safetensors: fixtures are part of the repository.
pub fn load_fixture(relative: &str) -> HashMap<String, Tensor> {
    let bytes = read_fixture(relative);
    parse_fixture(relative, &bytes)
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            let data = match view.dtype() {
                Dtype::F32 => view
                    .data()
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
                Dtype::I64 => view
                    .data()
                    .chunks_exact(8)
                    .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
                    .collect(),
                other => panic!("{name}: unexpected dtype {other:?}"),
            };
            let tensor = Tensor {
                shape: view.shape().to_vec(),
                data,
            };
            (name, tensor)
        })
        .collect()
}

/// Every tensor of `tests/fixtures/<relative>`, by name and flattened, for fixtures stored as
/// `F64` because they are compared bit for bit in `f64` (learning-rate schedules).
///
/// # Panics
/// If the file is missing or not valid safetensors, or a tensor is not `F64`.
pub fn load_fixture_f64(relative: &str) -> HashMap<String, Vec<f64>> {
    let bytes = read_fixture(relative);
    parse_fixture(relative, &bytes)
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            assert_eq!(view.dtype(), Dtype::F64, "{name}: expected F64");
            let data = view
                .data()
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
                .collect();
            (name, data)
        })
        .collect()
}

fn read_fixture(relative: &str) -> Vec<u8> {
    let path = fixtures_dir().join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn parse_fixture<'a>(relative: &str, bytes: &'a [u8]) -> SafeTensors<'a> {
    SafeTensors::deserialize(bytes).unwrap_or_else(|e| panic!("{relative} is not safetensors: {e}"))
}

/// Asserts `|actual − expected| ≤ atol + rtol·|expected|` elementwise, naming the first
/// offending index and both values.
///
/// # Panics
/// On a length mismatch, or when any element is out of tolerance.
#[track_caller]
pub fn assert_close(what: &str, actual: &[f32], expected: &[f32], atol: f32, rtol: f32) {
    assert_eq!(
        actual.len(),
        expected.len(),
        "{what}: length {} against {}",
        actual.len(),
        expected.len()
    );
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let allowed = atol + rtol * e.abs();
        let close = (a - e).abs() <= allowed || (a == e);
        assert!(
            close,
            "{what}[{i}]: got {a:e}, expected {e:e} (difference {:e}, allowed {allowed:e})",
            (a - e).abs()
        );
    }
}
