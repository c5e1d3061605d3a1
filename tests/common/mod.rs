//! Helpers shared by the integration tests.
#![allow(dead_code, unused_imports)] // each test binary uses a different part

use std::path::PathBuf;

pub use nn::testing::{assert_close, load_fixture};

/// `tests/fixtures/<relative>`.
pub fn fixture_path(relative: &str) -> PathBuf {
    nn::testing::fixtures_dir().join(relative)
}
