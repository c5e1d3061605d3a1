#!/usr/bin/env bash
# The runtime's unsafe code under Miri, which reports undefined behaviour (out-of-bounds pointer
# arithmetic or accesses, aliasing violations, data races) as it interprets the tests: the
# kernels' unit tests, on the portable path (under Miri the CPU reports no AVX), the helper
# thread's, and the aligned buffers' and batches'. Takes a few minutes.
#
# Needs a nightly toolchain with Miri: `rustup toolchain install nightly -c miri,rust-src`.
# Extra arguments go to the test harness, e.g. `tools/miri.sh kernel::threads`.
set -euo pipefail
cd "$(dirname "$0")/.."

# Two CPUs, so that large products start the kernels' helper thread. That thread lives as long
# as the process, so it is still running when the tests end: not a leak.
export MIRIFLAGS="${MIRIFLAGS:-} -Zmiri-num-cpus=2 -Zmiri-ignore-leaks"

if [ "$#" -eq 0 ]; then
    set -- kernel:: aligned:: batch:: size::
fi
exec cargo +nightly miri test -p nn-runtime --lib -- "$@"
