//! The three passes of a linear layer, written once over [`Vector`] and compiled for each
//! instruction set by [`instances`](super::instances): how each maps onto one [`Gemm`] (or
//! onto dot products), and where the activation or its derivative is applied.

use super::gemm::{self, Gemm, Init, MatA, MatB};
use super::vector::Vector;
use super::{Dims, ForwardOperands, InputGradOperands, WeightGradOperands, WeightLayout};
use crate::activation::RowActivation;

/// Which dot-product shape [`gemm::dot_forward`] uses, if the forward pass should use it:
/// `(R, NW)`, rows of `x` by rows of `W` per step. Measured on AVX-512: dot products beat
/// packing `Wᵀ` for a few rows (the copy would be used by too few rows to pay for itself) and
/// for few outputs (a tile of `LANES` outputs would be mostly empty).
pub(super) fn dot_shape(lanes: usize, m: usize, n: usize) -> Option<(usize, usize)> {
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
pub(super) type RowsDone<'a> = &'a mut dyn FnMut(usize, usize);

/// The products of one instruction set, compiled once in this crate. The passes that call them
/// are generic over the activation, so they are compiled again in every crate that declares a
/// network; only the activation's row loop, reached through [`RowsDone`] once per block of
/// rows, is compiled there.
#[derive(Clone, Copy)]
pub(super) struct Products {
    /// A product in `MR × NV·LANES` tiles.
    pub wide: unsafe fn(&Gemm, &mut Vec<f32>, RowsDone<'_>),
    /// A product in `MR1 × LANES` tiles, for at most `LANES` columns.
    pub narrow: unsafe fn(&Gemm, &mut Vec<f32>, RowsDone<'_>),
    /// [`gemm::dot_forward`] in the shape `(R, NW)` of [`dot_shape`].
    pub dot: unsafe fn(DotForward, RowsDone<'_>),
}

/// The operands of a [`gemm::dot_forward`]: `(m, n, k)`, `x`, `W`, `b` (or null: no bias), `z`,
/// and the shape.
#[derive(Clone, Copy)]
pub(super) struct DotForward {
    pub dims: (usize, usize, usize),
    pub x: *const f32,
    pub w: *const f32,
    pub b: *const f32,
    pub z: *mut f32,
    /// Add to `z` rather than overwrite it.
    pub accumulate: bool,
    pub shape: (usize, usize),
}

/// The forward pass for one instruction set; with `relu`, ReLU is applied as the product is
/// stored.
///
/// # Safety
/// The CPU supports `S`; the pointers of `p` are valid for `p.dims` (`a` may be null), and
/// `products` are compiled for `S`.
#[inline(always)]
pub(super) unsafe fn forward<S: Vector>(
    p: ForwardOperands,
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
    let dot = match layout {
        WeightLayout::OutIn => dot_shape(S::LANES, m, n),
        // Rows of `Wᵀ` are what a tile multiplies by: nothing to copy, even for one row.
        WeightLayout::InOut => None,
    };
    if let Some(shape) = dot {
        let dot = DotForward {
            dims: (m, n, k),
            x: p.x,
            w: p.w,
            b: p.bias,
            z: p.z,
            accumulate: false,
            shape,
        };
        // SAFETY: the CPU supports `S`, and `x`, `w`, `b`, `z` are valid for `(m, n, k)`
        // (this function's contract); `shape` is one `dot_shape` returns, which the instances
        // compile.
        return unsafe { (products.dot)(dot, rows_done) };
    }
    let a = MatA {
        ptr: p.x,
        rs: k,
        cs: 1,
    };
    let b = match layout {
        WeightLayout::OutIn => MatB::Cols { ptr: p.w, ld: k },
        WeightLayout::InOut => MatB::Rows { ptr: p.w, ld: n },
    };
    let mut nothing_left = |_, _| {};
    let (gemm, rows_done): (Gemm, RowsDone<'_>) = if relu && !p.a.is_null() {
        // ReLU as the results are stored, straight into `a`: `z` is not written (the
        // derivative reads only `a`), and nothing is left to do per block of rows.
        let gemm = Gemm::new((m, n, k), a, b, (p.a, n), Init::Bias(p.bias));
        (gemm.with_relu(), &mut nothing_left)
    } else {
        (
            Gemm::new((m, n, k), a, b, (p.z, n), Init::Bias(p.bias)),
            rows_done,
        )
    };
    let product = if n <= S::LANES {
        // One register of outputs: taller tiles of single registers.
        products.narrow
    } else {
        products.wide
    };
    // SAFETY: the CPU supports `S`, for which `products` are compiled; `x` (`m × k`, row
    // stride `k`), `w` (either layout) and the bias are valid for reading and the output (`z`
    // or `a`, `m × n`) for writing (this function's contract), and the output is a distinct
    // `&mut` borrow of the caller's.
    unsafe { product(&gemm, scratch, rows_done) }
}

/// The weight gradient for one instruction set.
///
/// # Safety
/// The CPU supports `S`; the pointers of `p` are valid for `p.dims`, and `products` are
/// compiled for `S`.
#[inline(always)]
pub(super) unsafe fn weight_grad<S: Vector>(
    p: WeightGradOperands,
    scratch: &mut Vec<f32>,
    products: Products,
) {
    let Dims {
        rows,
        inputs,
        outputs,
        layout,
    } = p.dims;
    let init = if p.accumulate { Init::Load } else { Init::Zero };
    // `dW = dzᵀ·x`, or its transpose `dWᵀ = xᵀ·dz`: `A` is a column-major view of the one,
    // `B` the other as it is.
    let (first, second, width) = match layout {
        WeightLayout::OutIn => ((p.dz, outputs), (p.x, inputs), inputs),
        WeightLayout::InOut => ((p.x, inputs), (p.dz, outputs), outputs),
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
        (p.dw, width),
        init,
    );
    // SAFETY: the CPU supports `S`, for which `products` are compiled; `x` (`rows × inputs`)
    // and `dz` (`rows × outputs`) are valid for reading and `dw` (`outputs × inputs` in
    // either layout) for reading and writing (this function's contract).
    unsafe { (products.wide)(&gemm, scratch, &mut |_, _| {}) };
    // SAFETY: the CPU supports `S`; `dz` holds `rows × outputs` values and `db` `outputs`.
    unsafe { gemm::column_sums::<S>(rows, outputs, p.dz, p.db, p.accumulate) };
}

/// The input gradient for one instruction set; with `relu`, ReLU's derivative (from `prev_a`)
/// is applied as the product is stored.
///
/// # Safety
/// The CPU supports the instruction set `products` are compiled for; the pointers of `p` are
/// valid for `p.dims`.
#[inline(always)]
pub(super) unsafe fn input_grad(
    p: InputGradOperands,
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
    let b = match layout {
        WeightLayout::OutIn => MatB::Rows {
            ptr: p.w,
            ld: inputs,
        },
        WeightLayout::InOut => MatB::Cols {
            ptr: p.w,
            ld: outputs,
        },
    };
    let gemm = Gemm::new(
        (rows, inputs, outputs),
        MatA {
            ptr: p.dz,
            rs: outputs,
            cs: 1,
        },
        b,
        (p.dx, inputs),
        Init::Zero,
    );
    let mut nothing_left = |_, _| {};
    let (gemm, rows_done): (Gemm, RowsDone<'_>) = if relu {
        // ReLU's derivative as the results are stored: nothing is left to do per block.
        (gemm.where_positive(p.prev_a), &mut nothing_left)
    } else {
        (gemm, rows_done)
    };
    // SAFETY: the CPU supports the instruction set of `products`; `dz` (`rows × outputs`), `w`
    // and `prev_a` (`rows × inputs`, read like `dx`) are valid for reading and `dx`
    // (`rows × inputs`) for writing (this function's contract).
    unsafe { (products.wide)(&gemm, scratch, rows_done) }
}

/// `a = act(z)` for rows `first..end` of a forward pass (nothing without `a`).
///
/// # Safety
/// The pointers of `p` are valid for `p.dims`, `first ≤ end ≤ rows`, and no other reference
/// to those rows of `z` and `a` is alive.
#[inline(always)]
pub(super) unsafe fn activate_rows<A: RowActivation>(
    p: ForwardOperands,
    act: &A,
    first: usize,
    end: usize,
) {
    let n = p.dims.outputs;
    if !p.a.is_null() {
        let (start, len) = (first * n, (end - first) * n);
        // SAFETY: rows `first..end` of `z` and `a` (`rows × n` each) lie within their buffers,
        // which are distinct, and nothing else refers to them (this function's contract).
        let (z, a) = unsafe {
            (
                std::slice::from_raw_parts(p.z.add(start), len),
                std::slice::from_raw_parts_mut(p.a.add(start), len),
            )
        };
        act.forward_rows(z, a, n);
    }
}

/// `dx ← dx·act'(prev_z)` for rows `first..end` of an input-gradient pass.
///
/// # Safety
/// The pointers of `p` are valid for `p.dims`, `first ≤ end ≤ rows`, and no other reference
/// to those rows of `dx` is alive.
#[inline(always)]
pub(super) unsafe fn derive_rows<A: RowActivation>(
    p: InputGradOperands,
    act: &A,
    first: usize,
    end: usize,
) {
    let inputs = p.dims.inputs;
    let (start, len) = (first * inputs, (end - first) * inputs);
    // SAFETY: rows `first..end` of `prev_z`, `prev_a` and `dx` (`rows × inputs` each) lie
    // within their buffers; `dx` is a distinct `&mut` borrow that nothing else refers to (this
    // function's contract).
    let (prev_z, prev_a, dx) = unsafe {
        (
            std::slice::from_raw_parts(p.prev_z.add(start), len),
            std::slice::from_raw_parts(p.prev_a.add(start), len),
            std::slice::from_raw_parts_mut(p.dx.add(start), len),
        )
    };
    act.backward_rows(prev_z, prev_a, dx, inputs);
}
