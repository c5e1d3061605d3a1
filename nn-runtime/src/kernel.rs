//! The dense kernels behind [`Linear`](crate::Linear): one pass per matrix product, with the
//! bias and the activation (or the activation's derivative) applied to each output row while it
//! is still in cache.
//!
//! Weights stay in PyTorch's `[out, in]` layout and no pass copies a transpose:
//! * forward, `z = x·Wᵀ + b`: dot products of an input row with a weight row, both contiguous;
//! * weight gradient, `dW = dzᵀ·x`: rows of `x` scaled by `dz` and added to rows of `dW`;
//! * input gradient, `dx = dz·W`: rows of `W` scaled by `dz` and added to rows of `dx`.
//!
//! Each kernel is written once, generically, over small register blocks that the compiler turns
//! into SIMD code, and compiled several times for the instruction sets detected at run time
//! (AVX-512, AVX2 with FMA, and the baseline), because the baseline x86-64 target has neither.
#![allow(unsafe_code)]
// only to call the copies compiled for features detected at run time
// Kernels take the matrices and the activation as separate slices so that callers can pass
// disjoint parts of one workspace.
#![allow(clippy::too_many_arguments)]

use crate::activation::RowActivation;

/// SIMD lanes the blocked loops are written for: one AVX2 register of `f32`.
const LANES: usize = 8;

/// Instruction-set level found on this machine, from the fastest.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Level {
    #[cfg(target_arch = "x86_64")]
    Avx512,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    Baseline,
}

fn level() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Level::Avx512;
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return Level::Avx2;
        }
    }
    Level::Baseline
}

/// Defines `$name` to run `$body` (an `#[inline(always)]` generic function) compiled for the best
/// instruction set this CPU has.
macro_rules! multiversion {
    (
        $(#[$meta:meta])*
        pub(crate) fn $name:ident<$($gen:ident $(: $bound:path)?),*>($($arg:ident: $ty:ty),* $(,)?) => $body:ident;
    ) => {
        $(#[$meta])*
        pub(crate) fn $name<$($gen $(: $bound)?),*>($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
            unsafe fn avx512<$($gen $(: $bound)?),*>($($arg: $ty),*) {
                $body(Fused, $($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2<$($gen $(: $bound)?),*>($($arg: $ty),*) {
                $body(Fused, $($arg),*)
            }
            match level() {
                // SAFETY: `level()` found these features on the running CPU.
                #[cfg(target_arch = "x86_64")]
                Level::Avx512 => unsafe { avx512($($arg),*) },
                // SAFETY: as above.
                #[cfg(target_arch = "x86_64")]
                Level::Avx2 => unsafe { avx2($($arg),*) },
                Level::Baseline => $body(Separate, $($arg),*),
            }
        }
    };
}

/// How `a·b + c` is computed inside a kernel: one rounding where the CPU has FMA, two where
/// it has not (a software `fma` would be far slower than the separate operations).
trait MulAdd: Copy {
    fn mul_add(self, a: f32, b: f32, c: f32) -> f32;
}

#[derive(Clone, Copy)]
struct Fused;

impl MulAdd for Fused {
    #[inline(always)]
    fn mul_add(self, a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

#[derive(Clone, Copy)]
struct Separate;

impl MulAdd for Separate {
    #[inline(always)]
    fn mul_add(self, a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
}

/// Dimensions of one linear layer applied to a batch.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dims {
    pub rows: usize,
    pub inputs: usize,
    pub outputs: usize,
}

multiversion! {
    /// `z = x·Wᵀ + b`, then `a = act(z)` row by row.
    pub(crate) fn forward<A: RowActivation>(
        dims: Dims, x: &[f32], w: &[f32], b: &[f32], z: &mut [f32], a: Option<&mut [f32]>, act: &A,
    ) => forward_body;
}

multiversion! {
    /// `dW (+)= dzᵀ·x` and `db (+)= Σ_rows dz`.
    pub(crate) fn weight_grad<>(
        dims: Dims, x: &[f32], dz: &[f32], dw: &mut [f32], db: &mut [f32], accumulate: bool,
    ) => weight_grad_body;
}

multiversion! {
    /// `dx = dz·W`, then turned into the gradient before the previous activation, row by row.
    pub(crate) fn input_grad<A: RowActivation>(
        dims: Dims, dz: &[f32], w: &[f32], prev_z: &[f32], prev_a: &[f32], act: &A, dx: &mut [f32],
    ) => input_grad_body;
}

/// Register block: `R` input rows against `O` weight rows, `LANES` partial sums each.
#[inline(always)]
fn dot_block<M: MulAdd, const R: usize, const O: usize>(
    m: M,
    xs: [&[f32]; R],
    ws: [&[f32]; O],
) -> [[f32; O]; R] {
    let k = xs[0].len();
    let body = k - k % LANES;
    let mut acc = [[[0.0f32; LANES]; O]; R];
    let mut start = 0;
    while start < body {
        for r in 0..R {
            let x = &xs[r][start..start + LANES];
            for o in 0..O {
                let w = &ws[o][start..start + LANES];
                for l in 0..LANES {
                    acc[r][o][l] = m.mul_add(x[l], w[l], acc[r][o][l]);
                }
            }
        }
        start += LANES;
    }
    let mut out = [[0.0f32; O]; R];
    for r in 0..R {
        for o in 0..O {
            let mut sum = acc[r][o].iter().sum::<f32>();
            for i in body..k {
                sum = m.mul_add(xs[r][i], ws[o][i], sum);
            }
            out[r][o] = sum;
        }
    }
    out
}

#[inline(always)]
fn forward_rows_block<M: MulAdd, const R: usize>(
    m: M,
    first: usize,
    dims: Dims,
    x: &[f32],
    w: &[f32],
    b: &[f32],
    z: &mut [f32],
) {
    let (n_in, n_out) = (dims.inputs, dims.outputs);
    let xs: [&[f32]; R] = std::array::from_fn(|r| &x[(first + r) * n_in..(first + r + 1) * n_in]);
    let mut o = 0;
    while o + 2 <= n_out {
        let ws = [
            &w[o * n_in..(o + 1) * n_in],
            &w[(o + 1) * n_in..(o + 2) * n_in],
        ];
        let sums = dot_block::<M, R, 2>(m, xs, ws);
        for r in 0..R {
            z[(first + r) * n_out + o] = sums[r][0] + b[o];
            z[(first + r) * n_out + o + 1] = sums[r][1] + b[o + 1];
        }
        o += 2;
    }
    if o < n_out {
        let sums = dot_block::<M, R, 1>(m, xs, [&w[o * n_in..(o + 1) * n_in]]);
        for r in 0..R {
            z[(first + r) * n_out + o] = sums[r][0] + b[o];
        }
    }
}

#[inline(always)]
fn forward_body<M: MulAdd, A: RowActivation>(
    m: M,
    dims: Dims,
    x: &[f32],
    w: &[f32],
    b: &[f32],
    z: &mut [f32],
    mut a: Option<&mut [f32]>,
    act: &A,
) {
    const R: usize = 4;
    let (rows, n_out) = (dims.rows, dims.outputs);
    let mut first = 0;
    while first < rows {
        let block = if first + R <= rows {
            forward_rows_block::<M, R>(m, first, dims, x, w, b, z);
            R
        } else {
            forward_rows_block::<M, 1>(m, first, dims, x, w, b, z);
            1
        };
        if let Some(a) = a.as_deref_mut() {
            let span = first * n_out..(first + block) * n_out;
            act.forward_rows(&z[span.clone()], &mut a[span], n_out);
        }
        first += block;
    }
}

#[inline(always)]
fn weight_grad_block<M: MulAdd, const O: usize>(
    m: M,
    first: usize,
    dims: Dims,
    x: &[f32],
    dz: &[f32],
    dw: &mut [f32],
    accumulate: bool,
) {
    let (rows, n_in, n_out) = (dims.rows, dims.inputs, dims.outputs);
    let body = n_in - n_in % LANES;
    let mut k = 0;
    while k < body {
        let mut acc = [[0.0f32; LANES]; O];
        if accumulate {
            for (o, lane) in acc.iter_mut().enumerate() {
                lane.copy_from_slice(&dw[(first + o) * n_in + k..(first + o) * n_in + k + LANES]);
            }
        }
        for r in 0..rows {
            let xv = &x[r * n_in + k..r * n_in + k + LANES];
            for o in 0..O {
                let g = dz[r * n_out + first + o];
                for l in 0..LANES {
                    acc[o][l] = m.mul_add(g, xv[l], acc[o][l]);
                }
            }
        }
        for (o, lane) in acc.iter().enumerate() {
            dw[(first + o) * n_in + k..(first + o) * n_in + k + LANES].copy_from_slice(lane);
        }
        k += LANES;
    }
    for o in 0..O {
        for k in body..n_in {
            let mut sum = if accumulate {
                dw[(first + o) * n_in + k]
            } else {
                0.0
            };
            for r in 0..rows {
                sum = m.mul_add(dz[r * n_out + first + o], x[r * n_in + k], sum);
            }
            dw[(first + o) * n_in + k] = sum;
        }
    }
}

#[inline(always)]
fn weight_grad_body<M: MulAdd>(
    m: M,
    dims: Dims,
    x: &[f32],
    dz: &[f32],
    dw: &mut [f32],
    db: &mut [f32],
    accumulate: bool,
) {
    const O: usize = 4;
    let n_out = dims.outputs;
    let mut first = 0;
    while first + O <= n_out {
        weight_grad_block::<M, O>(m, first, dims, x, dz, dw, accumulate);
        first += O;
    }
    while first < n_out {
        weight_grad_block::<M, 1>(m, first, dims, x, dz, dw, accumulate);
        first += 1;
    }
    if !accumulate {
        db.fill(0.0);
    }
    for row in dz.chunks_exact(n_out.max(1)).take(dims.rows) {
        for (d, &g) in db.iter_mut().zip(row) {
            *d += g;
        }
    }
}

#[inline(always)]
fn input_grad_block<M: MulAdd, const R: usize>(
    m: M,
    first: usize,
    dims: Dims,
    dz: &[f32],
    w: &[f32],
    dx: &mut [f32],
) {
    let (n_in, n_out) = (dims.inputs, dims.outputs);
    let body = n_in - n_in % LANES;
    let mut k = 0;
    while k < body {
        let mut acc = [[0.0f32; LANES]; R];
        for o in 0..n_out {
            let wv = &w[o * n_in + k..o * n_in + k + LANES];
            for r in 0..R {
                let g = dz[(first + r) * n_out + o];
                for l in 0..LANES {
                    acc[r][l] = m.mul_add(g, wv[l], acc[r][l]);
                }
            }
        }
        for (r, lane) in acc.iter().enumerate() {
            dx[(first + r) * n_in + k..(first + r) * n_in + k + LANES].copy_from_slice(lane);
        }
        k += LANES;
    }
    for r in 0..R {
        for k in body..n_in {
            let mut sum = 0.0f32;
            for o in 0..n_out {
                sum = m.mul_add(dz[(first + r) * n_out + o], w[o * n_in + k], sum);
            }
            dx[(first + r) * n_in + k] = sum;
        }
    }
}

#[inline(always)]
fn input_grad_body<M: MulAdd, A: RowActivation>(
    m: M,
    dims: Dims,
    dz: &[f32],
    w: &[f32],
    prev_z: &[f32],
    prev_a: &[f32],
    act: &A,
    dx: &mut [f32],
) {
    const R: usize = 4;
    let (rows, n_in) = (dims.rows, dims.inputs);
    let mut first = 0;
    while first < rows {
        let block = if first + R <= rows {
            input_grad_block::<M, R>(m, first, dims, dz, w, dx);
            R
        } else {
            input_grad_block::<M, 1>(m, first, dims, dz, w, dx);
            1
        };
        let span = first * n_in..(first + block) * n_in;
        act.backward_rows(
            &prev_z[span.clone()],
            &prev_a[span.clone()],
            &mut dx[span],
            n_in,
        );
        first += block;
    }
}
