//! The dense kernels behind [`Linear`](crate::Linear): one matrix product per pass, with the
//! bias folded into the product and the activation (or the activation's derivative) applied to
//! each block of output rows as soon as it is final, while it is still in cache.
//!
//! Weights stay in PyTorch's `[out, in]` layout. All three passes are one GEMM,
//! `C[M×N] (= or +=) A[M×K]·B[K×N]` ([`gemm`]), reading `A` and `B` through their strides
//! while copying blocks of them into the layouts its micro-kernels want:
//! * forward, `z = x·Wᵀ + b`: `A = x`, `B = Wᵀ`, the bias as the starting value;
//! * weight gradient, `dW (+)= dzᵀ·x`: `A = dzᵀ` (a column-major view of `dz`), `B = x`;
//! * input gradient, `dx = dz·W`: `A = dz`, `B = W`.
//!
//! A forward pass with few rows or few outputs uses dot products instead
//! ([`gemm::dot_forward`]): copying `Wᵀ` would cost more than the product.
//!
//! The micro-kernels are written once over [`vector::Vector`] and compiled for AVX-512,
//! AVX2 + FMA and plain Rust; the best one this CPU supports is picked at run time. Scratch
//! space is one buffer per thread that only grows, so warm calls allocate nothing. Large
//! products use a second core if there is one ([`threads`]; `NN_THREADS=1` keeps them on one).
#![allow(unsafe_code)]
// Kernels take the matrices and the activation as separate slices so that callers can pass
// disjoint parts of one workspace.
#![allow(clippy::too_many_arguments)]

mod gemm;
#[cfg(test)]
mod tests;
mod threads;
mod vector;

use std::cell::RefCell;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use crate::activation::RowActivation;
use gemm::{Gemm, Init, MatA, MatB, PartFn};
use vector::{Portable, Vector};

/// Dimensions of one linear layer applied to a batch.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dims {
    pub rows: usize,
    pub inputs: usize,
    pub outputs: usize,
}

/// Instruction-set level of a kernel, from the fastest.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Level {
    /// AVX-512F (with AVX2 and FMA).
    #[cfg(target_arch = "x86_64")]
    Avx512,
    /// AVX2 with FMA.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// Plain Rust.
    Portable,
}

/// The best level this CPU supports, detected once.
fn level() -> Level {
    static DETECTED: AtomicU8 = AtomicU8::new(0);
    match DETECTED.load(Ordering::Relaxed) {
        #[cfg(target_arch = "x86_64")]
        1 => Level::Avx512,
        #[cfg(target_arch = "x86_64")]
        2 => Level::Avx2,
        3 => Level::Portable,
        _ => {
            let found = detect();
            let code = match found {
                #[cfg(target_arch = "x86_64")]
                Level::Avx512 => 1,
                #[cfg(target_arch = "x86_64")]
                Level::Avx2 => 2,
                Level::Portable => 3,
            };
            DETECTED.store(code, Ordering::Relaxed);
            found
        }
    }
}

fn detect() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma");
        if avx2 && std::arch::is_x86_feature_detected!("avx512f") {
            return Level::Avx512;
        }
        if avx2 {
            return Level::Avx2;
        }
    }
    Level::Portable
}

/// The levels this CPU can run, fastest first (for tests): the detected one and those below.
#[cfg(test)]
pub(crate) fn available_levels() -> Vec<Level> {
    let all = [
        #[cfg(target_arch = "x86_64")]
        Level::Avx512,
        #[cfg(target_arch = "x86_64")]
        Level::Avx2,
        Level::Portable,
    ];
    let best = detect();
    let first = all.iter().position(|&l| l == best).unwrap_or(0);
    all[first..].to_vec()
}

/// Runs `f` with this thread's scratch buffer, which only grows: once the largest product has
/// been seen, kernels allocate nothing.
fn with_scratch<R>(f: impl FnOnce(&mut Vec<f32>) -> R) -> R {
    thread_local! {
        static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    }
    let mut f = Some(f);
    let result = SCRATCH.try_with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => f.take().map(|f| f(&mut scratch)),
        // Re-entered (an activation running a kernel): a buffer of its own.
        Err(_) => None,
    });
    match (result, f) {
        (Ok(Some(r)), _) => r,
        (_, Some(f)) => f(&mut Vec::new()),
        (_, None) => unreachable!("the closure ran but returned nothing"),
    }
}

/// Grows `scratch` to at least `len` floats.
fn reserve(scratch: &mut Vec<f32>, len: usize) {
    if scratch.len() < len {
        scratch.resize(len, 0.0);
    }
}

/// `z = x·Wᵀ + b`, then `a = act(z)` row by row.
pub(crate) fn forward<A: RowActivation>(
    dims: Dims,
    x: &[f32],
    w: &[f32],
    b: &[f32],
    z: &mut [f32],
    a: Option<&mut [f32]>,
    act: &A,
) {
    forward_at(level(), dims, x, w, b, z, a, act);
}

/// `dW (+)= dzᵀ·x` and `db (+)= Σ_rows dz`.
pub(crate) fn weight_grad(
    dims: Dims,
    x: &[f32],
    dz: &[f32],
    dw: &mut [f32],
    db: &mut [f32],
    accumulate: bool,
) {
    weight_grad_at(level(), dims, x, dz, dw, db, accumulate);
}

/// `dx = dz·W`, then turned into the gradient before the previous activation, row by row.
pub(crate) fn input_grad<A: RowActivation>(
    dims: Dims,
    dz: &[f32],
    w: &[f32],
    prev_z: &[f32],
    prev_a: &[f32],
    act: &A,
    dx: &mut [f32],
) {
    input_grad_at(level(), dims, dz, w, prev_z, prev_a, act, dx);
}

/// Raw views of the buffers of one kernel call, checked against its dimensions.
#[derive(Clone, Copy)]
struct Ptrs {
    dims: Dims,
    /// Inputs read: `x`/`dz`, `w`, then `b`/`prev_z`/`prev_a` depending on the kernel.
    src: [*const f32; 5],
    /// Outputs written: `z`/`dw`/`dx`, then `a`/`db` (null if none).
    dst: [*mut f32; 2],
}

#[track_caller]
fn check(name: &str, len: usize, needed: usize) {
    assert!(len >= needed, "{name}: {len} values, needs {needed}");
}

fn forward_at<A: RowActivation>(
    level: Level,
    dims: Dims,
    x: &[f32],
    w: &[f32],
    b: &[f32],
    z: &mut [f32],
    a: Option<&mut [f32]>,
    act: &A,
) {
    let Dims {
        rows,
        inputs,
        outputs,
    } = dims;
    check("x", x.len(), rows * inputs);
    check("w", w.len(), outputs * inputs);
    check("b", b.len(), outputs);
    check("z", z.len(), rows * outputs);
    if let Some(a) = a.as_deref() {
        check("a", a.len(), rows * outputs);
    }
    let p = Ptrs {
        dims,
        src: [
            x.as_ptr(),
            w.as_ptr(),
            b.as_ptr(),
            std::ptr::null(),
            std::ptr::null(),
        ],
        dst: [
            z.as_mut_ptr(),
            a.map_or(std::ptr::null_mut(), <[f32]>::as_mut_ptr),
        ],
    };
    with_scratch(|scratch| match level {
        // SAFETY: `level` is supported by this CPU (`level()` or `available_levels()` found it),
        // and the buffers were checked above against `dims`.
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => unsafe { avx512::forward(p, act, scratch) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 => unsafe { avx2::forward(p, act, scratch) },
        // SAFETY: the buffers were checked above against `dims`.
        Level::Portable => unsafe { portable::forward(p, act, scratch) },
    });
}

fn weight_grad_at(
    level: Level,
    dims: Dims,
    x: &[f32],
    dz: &[f32],
    dw: &mut [f32],
    db: &mut [f32],
    accumulate: bool,
) {
    let Dims {
        rows,
        inputs,
        outputs,
    } = dims;
    check("x", x.len(), rows * inputs);
    check("dz", dz.len(), rows * outputs);
    check("dw", dw.len(), outputs * inputs);
    check("db", db.len(), outputs);
    let p = Ptrs {
        dims,
        src: [
            x.as_ptr(),
            dz.as_ptr(),
            std::ptr::null(),
            std::ptr::null(),
            std::ptr::null(),
        ],
        dst: [dw.as_mut_ptr(), db.as_mut_ptr()],
    };
    with_scratch(|scratch| match level {
        // SAFETY: `level` is supported by this CPU, and the buffers were checked above.
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => unsafe { avx512::weight_grad(p, accumulate, scratch) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 => unsafe { avx2::weight_grad(p, accumulate, scratch) },
        // SAFETY: the buffers were checked above.
        Level::Portable => unsafe { portable::weight_grad(p, accumulate, scratch) },
    });
}

fn input_grad_at<A: RowActivation>(
    level: Level,
    dims: Dims,
    dz: &[f32],
    w: &[f32],
    prev_z: &[f32],
    prev_a: &[f32],
    act: &A,
    dx: &mut [f32],
) {
    let Dims {
        rows,
        inputs,
        outputs,
    } = dims;
    check("dz", dz.len(), rows * outputs);
    check("w", w.len(), outputs * inputs);
    check("prev_z", prev_z.len(), rows * inputs);
    check("prev_a", prev_a.len(), rows * inputs);
    check("dx", dx.len(), rows * inputs);
    let p = Ptrs {
        dims,
        src: [
            dz.as_ptr(),
            w.as_ptr(),
            std::ptr::null(),
            prev_z.as_ptr(),
            prev_a.as_ptr(),
        ],
        dst: [dx.as_mut_ptr(), std::ptr::null_mut()],
    };
    with_scratch(|scratch| match level {
        // SAFETY: `level` is supported by this CPU, and the buffers were checked above.
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => unsafe { avx512::input_grad(p, act, scratch) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 => unsafe { avx2::input_grad(p, act, scratch) },
        // SAFETY: the buffers were checked above.
        Level::Portable => unsafe { portable::input_grad(p, act, scratch) },
    });
}

/// Which dot-product shape [`gemm::dot_forward`] uses, if the forward pass should use it:
/// `(R, NW)`, rows of `x` by rows of `W` per step. Measured on AVX-512: dot products beat
/// packing `Wᵀ` for a few rows (the copy would be used by too few rows to pay for itself) and
/// for few outputs (a tile of `LANES` outputs would be mostly empty).
fn dot_shape(lanes: usize, m: usize, n: usize) -> Option<(usize, usize)> {
    if n <= 2 {
        Some((lanes / 2, 2))
    } else if n <= 4 || (m > 4 && 4 * n < 3 * lanes) {
        Some((lanes / 4, 4))
    } else if m == 1 {
        Some((1, lanes))
    } else if m <= 4 {
        Some((2, lanes / 2))
    } else {
        None
    }
}

/// The helper thread's share of a product, for the two tile shapes of one instruction set.
#[derive(Clone, Copy)]
struct Parts {
    /// `MR × NV` tiles.
    wide: Option<PartFn>,
    /// `MR1 × 1` tiles.
    narrow: Option<PartFn>,
}

/// The forward pass for one instruction set.
///
/// # Safety
/// The CPU supports `S`; the pointers of `p` are valid for `p.dims` (`a` may be null).
#[inline(always)]
unsafe fn forward_impl<
    S: Vector,
    const MR: usize,
    const NV: usize,
    const MR1: usize,
    A: RowActivation,
>(
    p: Ptrs,
    act: &A,
    scratch: &mut Vec<f32>,
    parts: Parts,
) {
    let Dims {
        rows: m,
        inputs: k,
        outputs: n,
    } = p.dims;
    let [x, w, b_bias, _, _] = p.src;
    let [z, a] = p.dst;
    let rows_done = |first: usize, end: usize| {
        if !a.is_null() {
            let z = std::slice::from_raw_parts(z.add(first * n), (end - first) * n);
            let a = std::slice::from_raw_parts_mut(a.add(first * n), (end - first) * n);
            act.forward_rows(z, a, n);
        }
    };
    macro_rules! dot {
        ($r:literal, $nw:literal) => {
            gemm::dot_forward::<S, $r, $nw>((m, n, k), x, w, b_bias, z, rows_done)
        };
    }
    match dot_shape(S::LANES, m, n) {
        Some((1, 4)) => dot!(1, 4),
        Some((2, 2)) => dot!(2, 2),
        Some((1, 8)) => dot!(1, 8),
        Some((2, 4)) => dot!(2, 4),
        Some((4, 2)) => dot!(4, 2),
        Some((1, 16)) => dot!(1, 16),
        Some((2, 8)) => dot!(2, 8),
        Some((4, 4)) => dot!(4, 4),
        Some((8, 2)) => dot!(8, 2),
        _ => {
            let a = MatA {
                ptr: x,
                rs: k,
                cs: 1,
            };
            let b = MatB::Cols { ptr: w, ld: k };
            if n <= S::LANES {
                // One register of outputs: taller tiles of single registers.
                Gemm::new((m, n, k), a, b, (z, n), Init::Bias(b_bias)).run::<S, MR1, 1>(
                    scratch,
                    parts.narrow,
                    rows_done,
                );
            } else {
                Gemm::new((m, n, k), a, b, (z, n), Init::Bias(b_bias))
                    .run::<S, MR, NV>(scratch, parts.wide, rows_done);
            }
        }
    }
}

/// The weight gradient for one instruction set.
///
/// # Safety
/// The CPU supports `S`; the pointers of `p` are valid for `p.dims`.
#[inline(always)]
unsafe fn weight_grad_impl<S: Vector, const MR: usize, const NV: usize>(
    p: Ptrs,
    accumulate: bool,
    scratch: &mut Vec<f32>,
    parts: Parts,
) {
    let Dims {
        rows,
        inputs,
        outputs,
    } = p.dims;
    let [x, dz, _, _, _] = p.src;
    let [dw, db] = p.dst;
    Gemm::new(
        (outputs, inputs, rows),
        MatA {
            ptr: dz,
            rs: 1,
            cs: outputs,
        },
        MatB::Rows { ptr: x, ld: inputs },
        (dw, inputs),
        if accumulate { Init::Load } else { Init::Zero },
    )
    .run::<S, MR, NV>(scratch, parts.wide, |_, _| {});
    gemm::column_sums::<S>(rows, outputs, dz, db, accumulate);
}

/// The input gradient for one instruction set.
///
/// # Safety
/// The CPU supports `S`; the pointers of `p` are valid for `p.dims`.
#[inline(always)]
unsafe fn input_grad_impl<S: Vector, const MR: usize, const NV: usize, A: RowActivation>(
    p: Ptrs,
    act: &A,
    scratch: &mut Vec<f32>,
    parts: Parts,
) {
    let Dims {
        rows,
        inputs,
        outputs,
    } = p.dims;
    let [dz, w, _, prev_z, prev_a] = p.src;
    let [dx, _] = p.dst;
    let shape = (rows, inputs, outputs);
    let rows_done = |first: usize, end: usize| {
        let span = first * inputs;
        let len = (end - first) * inputs;
        act.backward_rows(
            std::slice::from_raw_parts(prev_z.add(span), len),
            std::slice::from_raw_parts(prev_a.add(span), len),
            std::slice::from_raw_parts_mut(dx.add(span), len),
            inputs,
        );
    };
    Gemm::new(
        shape,
        MatA {
            ptr: dz,
            rs: outputs,
            cs: 1,
        },
        MatB::Rows { ptr: w, ld: inputs },
        (dx, inputs),
        Init::Zero,
    )
    .run::<S, MR, NV>(scratch, parts.wide, rows_done);
}

/// The three kernels compiled for one instruction set: `$S` vectors, `$mr × $nv·LANES` tiles
/// (`$mr1 × LANES` for a forward pass with at most `LANES` outputs),
/// each function with the attributes `$attr` (the instruction set to compile for).
macro_rules! instantiate {
    (
        $(#[$cfg:meta])*
        mod $name:ident: $S:ty, $mr:literal, $nv:literal, $mr1:literal,
        $(#[$attr:meta])*
    ) => {
        $(#[$cfg])*
        mod $name {
            use super::*;

            /// This thread's share of a product shared by two.
            ///
            /// # Safety
            /// As [`Gemm::run`].
            $(#[$attr])*
            unsafe fn part<const MR: usize, const NV: usize>(
                g: &Gemm,
                scratch: &mut Vec<f32>,
                next: &AtomicUsize,
            ) {
                reserve(scratch, g.shared_scratch_needed::<$S, MR, NV>());
                g.shared::<$S, MR, NV>(scratch, next);
            }

            const PARTS: Parts = Parts {
                wide: Some(part::<$mr, $nv>),
                narrow: Some(part::<$mr1, 1>),
            };

            /// # Safety
            /// As [`forward_impl`].
            $(#[$attr])*
            pub(super) unsafe fn forward<A: RowActivation>(
                p: Ptrs,
                act: &A,
                scratch: &mut Vec<f32>,
            ) {
                forward_impl::<$S, $mr, $nv, $mr1, A>(p, act, scratch, PARTS)
            }

            /// # Safety
            /// As [`weight_grad_impl`].
            $(#[$attr])*
            pub(super) unsafe fn weight_grad(p: Ptrs, accumulate: bool, scratch: &mut Vec<f32>) {
                weight_grad_impl::<$S, $mr, $nv>(p, accumulate, scratch, PARTS)
            }

            /// # Safety
            /// As [`input_grad_impl`].
            $(#[$attr])*
            pub(super) unsafe fn input_grad<A: RowActivation>(
                p: Ptrs,
                act: &A,
                scratch: &mut Vec<f32>,
            ) {
                input_grad_impl::<$S, $mr, $nv, A>(p, act, scratch, PARTS)
            }
        }
    };
}

instantiate! {
    #[cfg(target_arch = "x86_64")]
    mod avx512: vector::Avx512, 12, 2, 16,
    #[target_feature(enable = "avx512f,avx2,fma")]
}

instantiate! {
    #[cfg(target_arch = "x86_64")]
    mod avx2: vector::Avx2, 6, 2, 8,
    #[target_feature(enable = "avx2,fma")]
}

instantiate! {
    mod portable: Portable, 4, 2, 4,
}
