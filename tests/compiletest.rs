//! Compile-fail tests: each file under `tests/ui/` is one mistake, and its `.stderr` is the
//! error a user sees. Regenerate with `TRYBUILD=overwrite cargo test --test compiletest`, then
//! read every changed `.stderr`.

#[rustversion::attr(not(stable(1.95)), ignore = "stderr snapshots are from rustc 1.95")]
#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/**/*.rs");
}
