//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

pub use nn::testing::{assert_close, load_fixture, Tensor};

/// `tests/fixtures/<relative>`.
pub fn fixture_path(relative: &str) -> PathBuf {
    nn::testing::fixtures_dir().join(relative)
}
