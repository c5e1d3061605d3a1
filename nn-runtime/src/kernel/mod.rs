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
mod instances;
mod passes;
#[cfg(test)]
mod tests;
mod threads;
mod vector;

use std::cell::RefCell;

use crate::activation::RowActivation;
#[cfg(test)]
use crate::simd::available_levels;
use crate::simd::{level, Level};
use instances::portable;
#[cfg(target_arch = "x86_64")]
use instances::{avx2, avx512};
#[cfg(test)]
pub(crate) use threads::ONE_THREAD;
pub(crate) use threads::{for_each_channel, share};

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

/// The buffers of one forward pass, `z = x·Wᵀ + b` then `a = act(z)`, as raw pointers that
/// [`forward_at`] checked against `dims`.
#[derive(Clone, Copy)]
struct ForwardOperands {
    dims: Dims,
    /// `[rows, inputs]`.
    x: *const f32,
    /// `[outputs, inputs]` or `[inputs, outputs]`, as `dims.layout` says.
    w: *const f32,
    /// `[outputs]`.
    bias: *const f32,
    /// `[rows, outputs]`, the pre-activation.
    z: *mut f32,
    /// `[rows, outputs]`, the activation; null when the caller wants only `z`.
    a: *mut f32,
}

/// The buffers of one weight-gradient pass, `dW (+)= dzᵀ·x` and `db (+)= Σ_rows dz`, as raw
/// pointers that [`weight_grad_at`] checked against `dims`.
#[derive(Clone, Copy)]
struct WeightGradOperands {
    dims: Dims,
    /// `[rows, inputs]`, the layer's input.
    x: *const f32,
    /// `[rows, outputs]`, the gradient of the pre-activation.
    dz: *const f32,
    /// Stored as `w` is.
    dw: *mut f32,
    /// `[outputs]`.
    db: *mut f32,
    /// Add to `dw` and `db` instead of overwriting them.
    accumulate: bool,
}

/// The buffers of one input-gradient pass, `dx = (dz·W)·act'(prev_z)`, as raw pointers that
/// [`input_grad_at`] checked against `dims`.
#[derive(Clone, Copy)]
struct InputGradOperands {
    dims: Dims,
    /// `[rows, outputs]`.
    dz: *const f32,
    /// As in [`ForwardOperands::w`].
    w: *const f32,
    /// `[rows, inputs]`: the previous layer's pre-activation and activation, for the
    /// derivative of the activation between the two layers.
    prev_z: *const f32,
    prev_a: *const f32,
    /// `[rows, inputs]`.
    dx: *mut f32,
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
/// The caller has checked the buffers behind the operands against their dimensions with
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
    let operands = ForwardOperands {
        dims,
        x: x.as_ptr(),
        w: w.as_ptr(),
        bias: b.as_ptr(),
        z: z.as_mut_ptr(),
        a: a.map_or(std::ptr::null_mut(), <[f32]>::as_mut_ptr),
    };
    run_at!(level, forward(operands, act))
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
    let operands = WeightGradOperands {
        dims,
        x: x.as_ptr(),
        dz: dz.as_ptr(),
        dw: dw.as_mut_ptr(),
        db: db.as_mut_ptr(),
        accumulate,
    };
    run_at!(level, weight_grad(operands))
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
    let operands = InputGradOperands {
        dims,
        dz: dz.as_ptr(),
        w: w.as_ptr(),
        prev_z: prev_z.as_ptr(),
        prev_a: prev_a.as_ptr(),
        dx: dx.as_mut_ptr(),
    };
    run_at!(level, input_grad(operands, act))
}

/// A matrix read from a slice: `A(i, j)` is `values[i·row_stride + j·column_stride]`, for
/// `i < rows` and `j < columns`, with one of the strides 1. The convolutions multiply parts of
/// their buffers (a group's filters, their transpose, an example's outputs) in place this way.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Operand<'a> {
    pub values: &'a [f32],
    pub rows: usize,
    pub columns: usize,
    pub row_stride: usize,
    pub column_stride: usize,
}

impl<'a> Operand<'a> {
    /// `rows × columns` values stored row after row.
    pub(crate) fn rows(values: &'a [f32], rows: usize, columns: usize) -> Self {
        Operand {
            values,
            rows,
            columns,
            row_stride: columns,
            column_stride: 1,
        }
    }

    /// The transpose of `columns × rows` values stored row after row: `rows × columns`, read
    /// down the columns.
    pub(crate) fn transposed(values: &'a [f32], rows: usize, columns: usize) -> Self {
        Operand {
            values,
            rows,
            columns,
            row_stride: 1,
            column_stride: rows,
        }
    }

    /// Checks that every value the strides reach lies in `values`, and that one stride is 1.
    ///
    /// # Panics
    /// If not: the kernels' pointers would leave the slice.
    #[track_caller]
    fn check(&self, name: &str) {
        assert!(
            self.row_stride == 1 || self.column_stride == 1,
            "{name}: one stride must be 1"
        );
        if self.rows == 0 || self.columns == 0 {
            return;
        }
        let last = (self.rows - 1)
            .checked_mul(self.row_stride)
            .and_then(|r| Some(r + (self.columns - 1).checked_mul(self.column_stride)?));
        assert!(
            last.is_some_and(|last| last < self.values.len()),
            "{name}: {} values, too few for {} × {} with strides {} and {}",
            self.values.len(),
            self.rows,
            self.columns,
            self.row_stride,
            self.column_stride
        );
    }
}

/// `C = A·B`, or `C += A·B` with `accumulate`: `C` has `a.rows` rows of `b.columns` values,
/// `ldc` apart.
///
/// # Panics
/// If the operands' sizes disagree or do not fit their slices.
#[track_caller]
pub(crate) fn product(a: Operand<'_>, b: Operand<'_>, c: &mut [f32], ldc: usize, accumulate: bool) {
    a.check("A");
    b.check("B");
    assert_eq!(a.columns, b.rows, "A's columns and B's rows differ");
    let (m, n, k) = (a.rows, b.columns, a.columns);
    if m > 0 && n > 0 {
        assert!(ldc >= n, "C: rows {ldc} apart, narrower than {n}");
        let needed = (m - 1).checked_mul(ldc).and_then(|r| r.checked_add(n));
        assert!(
            needed.is_some_and(|needed| needed <= c.len()),
            "C: {} values, too few for {m} rows of {n}, {ldc} apart",
            c.len()
        );
    }
    let mat_a = gemm::MatA {
        ptr: a.values.as_ptr(),
        rs: a.row_stride,
        cs: a.column_stride,
    };
    let mat_b = if b.column_stride == 1 {
        gemm::MatB::Rows {
            ptr: b.values.as_ptr(),
            ld: b.row_stride,
        }
    } else {
        gemm::MatB::Cols {
            ptr: b.values.as_ptr(),
            ld: b.column_stride,
        }
    };
    let init = if accumulate {
        gemm::Init::Load
    } else {
        gemm::Init::Zero
    };
    let g = gemm::Gemm::new((m, n, k), mat_a, mat_b, (c.as_mut_ptr(), ldc), init);
    run_at!(level(), product(g))
}

/// `z = x·wᵀ`, or `z += x·wᵀ` with `accumulate`, as dot products of rows: `x` holds `m` rows of
/// `k` values, `w` `n` rows of `k`, `z` `m` rows of `n`. For long rows and few outputs (a
/// convolution's weight gradient sums over every position of a batch), it reads both in place
/// where a product would copy one of them transposed.
///
/// # Panics
/// If a slice is shorter than its rows.
#[track_caller]
pub(crate) fn dot_products(
    (m, n, k): (usize, usize, usize),
    x: &[f32],
    w: &[f32],
    z: &mut [f32],
    accumulate: bool,
) {
    check("x", x.len(), (m, k));
    check("w", w.len(), (n, k));
    check("z", z.len(), (m, n));
    let level = level();
    let lanes = match level {
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => 16,
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 => 8,
        _ => 4,
    };
    let operands = passes::DotForward {
        dims: (m, n, k),
        x: x.as_ptr(),
        w: w.as_ptr(),
        b: std::ptr::null(),
        z: z.as_mut_ptr(),
        accumulate,
        // Four rows of `w` per step, and as many of `x` as fill a register: each value loaded
        // feeds two or more multiply-adds.
        shape: (lanes / 4, 4),
    };
    run_at!(level, dots(operands))
}
