//! The dense kernels behind [`Linear`](crate::Linear): one matrix product per pass, with the
//! bias folded into the product and the activation (or the activation's derivative) applied to
//! each block of output rows as soon as it is final, while it is still in cache.
//!
//! A weight is stored in one of two layouts ([`WeightLayout`]): PyTorch's `[out, in]`, or its
//! transpose `[in, out]`, whose rows are what the forward pass multiplies by. All three passes
//! are one GEMM, `C[M×N] (= or +=) A[M×K]·B[K×N]` ([`gemm`]), reading `A` and `B` through
//! their strides while copying blocks of them into the layouts its micro-kernels want (or in
//! place, when they already are):
//! * forward, `z = x·Wᵀ + b`: `A = x`, `B = Wᵀ`, the bias as the starting value;
//! * weight gradient, `dW (+)= dzᵀ·x`: `A = dzᵀ` (a column-major view of `dz`), `B = x`; or,
//!   stored transposed, `dWᵀ (+)= xᵀ·dz`;
//! * input gradient, `dx = dz·W`: `A = dz`, `B = W`.
//!
//! `B = Wᵀ` is a transposing copy in the `[out, in]` layout and `B = W` one in the `[in, out]`
//! layout: a wide layer stores `[in, out]`, so that inference and the first layer (which has no
//! input gradient) never transpose. A forward pass with few outputs, or a stored `[out, in]`
//! weight and few rows, uses dot products of rows instead ([`gemm::dot_forward`]).
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
use std::sync::atomic::AtomicUsize;

use crate::activation::{Builtin, RowActivation};
#[cfg(test)]
use crate::simd::available_levels;
use crate::simd::{level, Level};
use gemm::{Gemm, Init, MatA, MatB};
use vector::{Portable, Vector};

/// Dimensions of one linear layer applied to a batch, and how its weight is stored.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dims {
    pub rows: usize,
    pub inputs: usize,
    pub outputs: usize,
    pub layout: WeightLayout,
}

/// How a weight (and its gradient) is stored, row-major.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WeightLayout {
    /// PyTorch's `[out, in]`: rows of `W`.
    OutIn,
    /// `[in, out]`: rows of `Wᵀ`, which the forward product reads in place.
    InOut,
}

impl WeightLayout {
    /// The layout a layer with this many outputs stores: transposed when wide. Its forward
    /// product would otherwise copy `Wᵀ` on every call, while the input gradient, which wants
    /// `W`, is not needed at all for a first layer, nor in inference. A narrow layer computes
    /// its forward pass as dot products of rows of `W` ([`dot_shape`]), which need no copy.
    pub(crate) const fn for_outputs(outputs: usize) -> Self {
        if outputs >= 16 {
            WeightLayout::InOut
        } else {
            WeightLayout::OutIn
        }
    }
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

/// Checks that buffer `name` holds `rows × width` values: what makes the kernels' pointers
/// valid for their dimensions.
///
/// # Panics
/// If it is shorter, or if `rows × width` overflows the address space (then no buffer could be
/// long enough, and the wrapped product must not be taken for the length).
#[track_caller]
fn check(name: &str, len: usize, (rows, width): (usize, usize)) {
    let needed = crate::size::values(rows, width);
    assert!(len >= needed, "{name}: {len} values, needs {needed}");
}

/// Runs kernel `$kernel` of the instruction set `$level` with this thread's scratch buffer.
///
/// The caller has checked the buffers behind the `Ptrs` argument against its dimensions with
/// [`check`]: each holds at least `rows × width` values for its dimensions, a product computed
/// without overflow, so every offset the kernels dereference (below those products) is within
/// its buffer. The buffers come from distinct borrows (`&mut` ones for the outputs), so the
/// outputs overlap nothing else.
macro_rules! run_at {
    ($level:expr, $kernel:ident($($arg:expr),*)) => {
        with_scratch(|scratch| match $level {
            // SAFETY: `level()` or `available_levels()` found this level on this CPU, and the
            // caller checked the buffers against the dimensions (see above).
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => unsafe { avx512::$kernel($($arg,)* scratch) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => unsafe { avx2::$kernel($($arg,)* scratch) },
            // SAFETY: the caller checked the buffers against the dimensions (see above); the
            // portable code needs nothing of the CPU. (`Baseline`; off x86-64, and under Miri,
            // it is the only level ever detected.)
            _ => unsafe { portable::$kernel($($arg,)* scratch) },
        })
    };
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
        ..
    } = dims;
    check("x", x.len(), (rows, inputs));
    check("w", w.len(), (outputs, inputs));
    check("b", b.len(), (1, outputs));
    check("z", z.len(), (rows, outputs));
    if let Some(a) = a.as_deref() {
        check("a", a.len(), (rows, outputs));
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
    // The buffers were checked above against `dims`.
    run_at!(level, forward(p, act))
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
        ..
    } = dims;
    check("x", x.len(), (rows, inputs));
    check("dz", dz.len(), (rows, outputs));
    check("dw", dw.len(), (outputs, inputs));
    check("db", db.len(), (1, outputs));
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
    // The buffers were checked above against `dims`.
    run_at!(level, weight_grad(p, accumulate))
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
        ..
    } = dims;
    check("dz", dz.len(), (rows, outputs));
    check("w", w.len(), (outputs, inputs));
    check("prev_z", prev_z.len(), (rows, inputs));
    check("prev_a", prev_a.len(), (rows, inputs));
    check("dx", dx.len(), (rows, inputs));
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
    // The buffers were checked above against `dims`.
    run_at!(level, input_grad(p, act))
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

/// Called after each block of rows of a product is final, with `(first, end)`: where the
/// activation (or its derivative) is applied while the block is still in cache.
type RowsDone<'a> = &'a mut dyn FnMut(usize, usize);

/// The products of one instruction set, compiled once in this crate. The kernels that call them
/// are generic over the activation, so they are compiled again in every crate that declares a
/// network; only the activation's row loop, reached through [`RowsDone`] once per block of
/// rows, is compiled there.
#[derive(Clone, Copy)]
struct Products {
    /// A product in `MR × NV·LANES` tiles.
    wide: unsafe fn(&Gemm, &mut Vec<f32>, RowsDone<'_>),
    /// A product in `MR1 × LANES` tiles, for at most `LANES` columns.
    narrow: unsafe fn(&Gemm, &mut Vec<f32>, RowsDone<'_>),
    /// [`gemm::dot_forward`] in the shape `(R, NW)` of [`dot_shape`].
    dot: unsafe fn(DotForward, RowsDone<'_>),
}

/// The operands of a [`gemm::dot_forward`]: `(m, n, k)`, `x`, `W`, `b`, `z`, and the shape.
#[derive(Clone, Copy)]
struct DotForward {
    dims: (usize, usize, usize),
    x: *const f32,
    w: *const f32,
    b: *const f32,
    z: *mut f32,
    shape: (usize, usize),
}

/// The forward pass for one instruction set.
///
/// # Safety
/// The CPU supports `S`; the pointers of `p` are valid for `p.dims` (`a` may be null).
#[inline(always)]
unsafe fn forward_impl<S: Vector>(
    p: Ptrs,
    relu: bool,
    scratch: &mut Vec<f32>,
    products: Products,
    rows_done: RowsDone<'_>,
) {
    let Dims {
        rows: m,
        inputs: k,
        outputs: n,
        layout,
    } = p.dims;
    let [x, w, b_bias, _, _] = p.src;
    let [z, _] = p.dst;
    let dot = match layout {
        WeightLayout::OutIn => dot_shape(S::LANES, m, n),
        // Rows of `Wᵀ` are what a tile multiplies by: nothing to copy, even for one row.
        WeightLayout::InOut => None,
    };
    if let Some(shape) = dot {
        let dot = DotForward {
            dims: (m, n, k),
            x,
            w,
            b: b_bias,
            z,
            shape,
        };
        return (products.dot)(dot, rows_done);
    }
    let a = MatA {
        ptr: x,
        rs: k,
        cs: 1,
    };
    let b = match layout {
        WeightLayout::OutIn => MatB::Cols { ptr: w, ld: k },
        WeightLayout::InOut => MatB::Rows { ptr: w, ld: n },
    };
    let [_, activated] = p.dst;
    let mut nothing_left = |_, _| {};
    let (gemm, rows_done): (Gemm, RowsDone<'_>) = if relu && !activated.is_null() {
        // ReLU as the results are stored, straight into `a`: `z` is not written (the
        // derivative reads only `a`), and nothing is left to do per block of rows.
        let gemm = Gemm::new((m, n, k), a, b, (activated, n), Init::Bias(b_bias));
        (gemm.with_relu(), &mut nothing_left)
    } else {
        (
            Gemm::new((m, n, k), a, b, (z, n), Init::Bias(b_bias)),
            rows_done,
        )
    };
    if n <= S::LANES {
        // One register of outputs: taller tiles of single registers.
        (products.narrow)(&gemm, scratch, rows_done);
    } else {
        (products.wide)(&gemm, scratch, rows_done);
    }
}

/// The weight gradient for one instruction set.
///
/// # Safety
/// The CPU supports `S`; the pointers of `p` are valid for `p.dims`.
#[inline(always)]
unsafe fn weight_grad_impl<S: Vector>(
    p: Ptrs,
    accumulate: bool,
    scratch: &mut Vec<f32>,
    products: Products,
) {
    let Dims {
        rows,
        inputs,
        outputs,
        layout,
    } = p.dims;
    let [x, dz, _, _, _] = p.src;
    let [dw, db] = p.dst;
    let init = if accumulate { Init::Load } else { Init::Zero };
    // `dW = dzᵀ·x`, or its transpose `dWᵀ = xᵀ·dz`: `A` is a column-major view of the one,
    // `B` the other as it is.
    let (first, second, width) = match layout {
        WeightLayout::OutIn => ((dz, outputs), (x, inputs), inputs),
        WeightLayout::InOut => ((x, inputs), (dz, outputs), outputs),
    };
    let gemm = Gemm::new(
        (first.1, second.1, rows),
        MatA {
            ptr: first.0,
            rs: 1,
            cs: first.1,
        },
        MatB::Rows {
            ptr: second.0,
            ld: second.1,
        },
        (dw, width),
        init,
    );
    (products.wide)(&gemm, scratch, &mut |_, _| {});
    gemm::column_sums::<S>(rows, outputs, dz, db, accumulate);
}

/// The input gradient for one instruction set.
///
/// # Safety
/// The CPU supports `S`; the pointers of `p` are valid for `p.dims`.
#[inline(always)]
unsafe fn input_grad_impl(
    p: Ptrs,
    relu: bool,
    scratch: &mut Vec<f32>,
    products: Products,
    rows_done: RowsDone<'_>,
) {
    let Dims {
        rows,
        inputs,
        outputs,
        layout,
    } = p.dims;
    let [dz, w, _, _, prev_a] = p.src;
    let [dx, _] = p.dst;
    let shape = (rows, inputs, outputs);
    let b = match layout {
        WeightLayout::OutIn => MatB::Rows { ptr: w, ld: inputs },
        WeightLayout::InOut => MatB::Cols {
            ptr: w,
            ld: outputs,
        },
    };
    let gemm = Gemm::new(
        shape,
        MatA {
            ptr: dz,
            rs: outputs,
            cs: 1,
        },
        b,
        (dx, inputs),
        Init::Zero,
    );
    if relu {
        // ReLU's derivative as the results are stored: nothing is left to do per block.
        (products.wide)(&gemm.where_positive(prev_a), scratch, &mut |_, _| {});
    } else {
        (products.wide)(&gemm, scratch, rows_done);
    }
}

/// `a = act(z)` for rows `first..end` of a forward pass (nothing without `a`).
///
/// # Safety
/// The pointers of `p` are valid for `p.dims`.
#[inline(always)]
unsafe fn activate_rows<A: RowActivation>(p: Ptrs, act: &A, first: usize, end: usize) {
    let n = p.dims.outputs;
    let [z, a] = p.dst;
    if !a.is_null() {
        let z = std::slice::from_raw_parts(z.add(first * n), (end - first) * n);
        let a = std::slice::from_raw_parts_mut(a.add(first * n), (end - first) * n);
        act.forward_rows(z, a, n);
    }
}

/// `dx ← dx·act'(prev_z)` for rows `first..end` of an input-gradient pass.
///
/// # Safety
/// The pointers of `p` are valid for `p.dims`.
#[inline(always)]
unsafe fn derive_rows<A: RowActivation>(p: Ptrs, act: &A, first: usize, end: usize) {
    let inputs = p.dims.inputs;
    let [_, _, _, prev_z, prev_a] = p.src;
    let [dx, _] = p.dst;
    let (span, len) = (first * inputs, (end - first) * inputs);
    act.backward_rows(
        std::slice::from_raw_parts(prev_z.add(span), len),
        std::slice::from_raw_parts(prev_a.add(span), len),
        std::slice::from_raw_parts_mut(dx.add(span), len),
        inputs,
    );
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

            /// A product in `$mr × $nv·LANES` tiles.
            ///
            /// # Safety
            /// As [`Gemm::run`].
            $(#[$attr])*
            unsafe fn wide(g: &Gemm, scratch: &mut Vec<f32>, rows_done: RowsDone<'_>) {
                g.run::<$S, $mr, $nv>(scratch, Some(part::<$mr, $nv>), rows_done)
            }

            /// A product in `$mr1 × LANES` tiles.
            ///
            /// # Safety
            /// As [`Gemm::run`].
            $(#[$attr])*
            unsafe fn narrow(g: &Gemm, scratch: &mut Vec<f32>, rows_done: RowsDone<'_>) {
                g.run::<$S, $mr1, 1>(scratch, Some(part::<$mr1, 1>), rows_done)
            }

            /// [`gemm::dot_forward`] in the given shape.
            ///
            /// # Safety
            /// As [`gemm::dot_forward`].
            $(#[$attr])*
            unsafe fn dot(d: DotForward, rows_done: RowsDone<'_>) {
                let DotForward { dims, x, w, b, z, shape } = d;
                match shape {
                    (1, 4) => gemm::dot_forward::<$S, 1, 4>(dims, x, w, b, z, rows_done),
                    (2, 2) => gemm::dot_forward::<$S, 2, 2>(dims, x, w, b, z, rows_done),
                    (1, 8) => gemm::dot_forward::<$S, 1, 8>(dims, x, w, b, z, rows_done),
                    (2, 4) => gemm::dot_forward::<$S, 2, 4>(dims, x, w, b, z, rows_done),
                    (4, 2) => gemm::dot_forward::<$S, 4, 2>(dims, x, w, b, z, rows_done),
                    (1, 16) => gemm::dot_forward::<$S, 1, 16>(dims, x, w, b, z, rows_done),
                    (2, 8) => gemm::dot_forward::<$S, 2, 8>(dims, x, w, b, z, rows_done),
                    (4, 4) => gemm::dot_forward::<$S, 4, 4>(dims, x, w, b, z, rows_done),
                    (8, 2) => gemm::dot_forward::<$S, 8, 2>(dims, x, w, b, z, rows_done),
                    _ => unreachable!("no dot-product shape {shape:?}"),
                }
            }

            const PRODUCTS: Products = Products { wide, narrow, dot };

            /// # Safety
            /// As [`forward_impl`].
            $(#[$attr])*
            pub(super) unsafe fn forward<A: RowActivation>(
                p: Ptrs,
                act: &A,
                scratch: &mut Vec<f32>,
            ) {
                // The closure is written here so that it is compiled for this instruction set.
                let mut rows_done = |first, end| activate_rows(p, act, first, end);
                forward_impl::<$S>(p, A::BUILTIN == Builtin::ReLU, scratch, PRODUCTS, &mut rows_done)
            }

            /// # Safety
            /// As [`weight_grad_impl`].
            $(#[$attr])*
            pub(super) unsafe fn weight_grad(p: Ptrs, accumulate: bool, scratch: &mut Vec<f32>) {
                weight_grad_impl::<$S>(p, accumulate, scratch, PRODUCTS)
            }

            /// # Safety
            /// As [`input_grad_impl`].
            $(#[$attr])*
            pub(super) unsafe fn input_grad<A: RowActivation>(
                p: Ptrs,
                act: &A,
                scratch: &mut Vec<f32>,
            ) {
                let mut rows_done = |first, end| derive_rows(p, act, first, end);
                input_grad_impl(p, A::BUILTIN == Builtin::ReLU, scratch, PRODUCTS, &mut rows_done)
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
