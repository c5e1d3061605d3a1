//! The matrix product behind every kernel, generic over the SIMD [`Vector`] type:
//! `C[M×N] (= or +=) A[M×K]·B[K×N]`, optionally starting from a bias row.
//!
//! The product follows the GotoBLAS/BLIS structure, cut down to the sizes of a small network.
//! Loops, outermost first: blocks of at most `MC` rows of `C`; blocks of at most `KC` of `K`,
//! with the block of `A` copied into slivers of `MR` rows (`MR` values per `k`, in L2);
//! panels of `NR = NV·LANES` columns, with the `KC × NR` block of `B` copied contiguous and
//! zero-padded (in L1); tiles of `MR` rows. A micro-kernel keeps an `MR × NR` tile of `C` in
//! `MR·NV` registers for the whole block of `K`: per `k`, `NV` vector loads of `B` and `MR`
//! broadcasts of `A` feed `MR·NV` fused multiply-adds. Edge tiles use masked loads and stores;
//! rows left over are done in tiles of 8, 4, 2 and 1. `rows_done` is called after each block of
//! rows, while its output is still in cache. A large product is split by panels between this
//! thread and a helper thread ([`super::threads`]).
//!
//! For a forward pass with few rows (batch-1 inference) or few outputs, copying the transpose
//! of `W` would cost more than the product; [`dot_forward`] computes dot products of rows of `x`
//! and rows of `W` instead, both contiguous, and sums the lanes of `LANES` accumulators at once.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::vector::Vector;

/// `size`, or `small` under Miri: the sizes below decide which path a product takes (packed or
/// read in place, one block or several, one thread or two), and Miri, which interprets every
/// operation, can only check products a few thousand times smaller than those that take the
/// other paths at full size.
const fn or_under_miri(size: usize, small: usize) -> usize {
    if cfg!(miri) {
        small
    } else {
        size
    }
}

/// Rows of `C` per block (rounded down to a multiple of `MR`): a block of `A` is `MC × KC`,
/// 256 KiB, in L2.
const MC: usize = or_under_miri(256, 16);

/// How far ahead (in floats) the transposing copies prefetch their source rows.
const PREFETCH: usize = or_under_miri(64, 4);

/// Depth of the blocks of the `K` loop: one `KC × NR` block of `B` stays in L1 across the
/// tiles of a block of rows.
const KC: usize = or_under_miri(256, 16);

/// Depth below which a tile is too short for prefetching its lines of `C` to pay.
const PREFETCH_K: usize = or_under_miri(16, 4);

/// How the accumulators of a block of `C` start.
#[derive(Clone, Copy)]
pub(super) enum Init {
    /// From zero: `C = A·B`.
    Zero,
    /// From the row vector at this pointer (`N` values): `C = A·B + 1·bᵀ`.
    Bias(*const f32),
    /// From `C` itself: `C += A·B`.
    Load,
}

/// Where `A(i, k)` is: `ptr[i·rs + k·cs]`, with one of the strides 1.
#[derive(Clone, Copy)]
pub(super) struct MatA {
    pub ptr: *const f32,
    /// Stride between rows `i`.
    pub rs: usize,
    /// Stride between columns `k`.
    pub cs: usize,
}

/// Where `B(k, n)` is.
#[derive(Clone, Copy)]
pub(super) enum MatB {
    /// `ptr[k·ld + n]`: rows of `B` contiguous.
    Rows { ptr: *const f32, ld: usize },
    /// `ptr[n·ld + k]`: columns of `B` contiguous (`B` is the transpose of a row-major matrix).
    Cols { ptr: *const f32, ld: usize },
}

/// One product, `C[M×N] = init + A·B`.
#[derive(Clone, Copy)]
pub(super) struct Gemm {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub a: MatA,
    pub b: MatB,
    /// `C`, row-major, rows `ldc` apart.
    pub c: *mut f32,
    pub ldc: usize,
    pub init: Init,
    /// Store `max(C, 0)` (ReLU) instead of `C`: the activation of a forward pass, applied
    /// while the results are still in registers.
    pub relu: bool,
    /// If not null, `Y`, laid out as `C`: store `C` only where `Y > 0`, else 0. ReLU's
    /// derivative in an input-gradient pass (`Y` is the activation's output).
    pub positive: *const f32,
}

// SAFETY: a `Gemm` is only plain pointers and sizes; the threads that share one (a caller and
// the helper thread of `threads::run_pair`) write disjoint panels of `C` and only read the rest,
// and the caller waits for the helper before the buffers can be released.
unsafe impl Sync for Gemm {}
// SAFETY: as above.
unsafe impl Send for Gemm {}

/// [`Gemm::shared`] compiled for the caller's instruction set, run by both threads of a shared
/// product, each with its own scratch buffer.
pub(super) type PartFn = unsafe fn(&Gemm, &mut Vec<f32>, &AtomicUsize);

/// Floats of `A` and `B` below which a product that has `K` in one block reads them in place.
const IN_CACHE: usize = or_under_miri(1 << 15, 128);

/// Floats of a packed block of `A` (all of `K`) in a shared product: 512 KiB, in L2.
const SHARED_A: usize = or_under_miri(1 << 17, 256);

/// Products with fewer multiply-adds than this run on one thread: below it, waking a second
/// thread costs more than it saves.
const PARALLEL_MIN: usize = or_under_miri(1 << 22, 1 << 9);

impl Gemm {
    /// The product `C = init + A·B`.
    pub(super) fn new(
        (m, n, k): (usize, usize, usize),
        a: MatA,
        b: MatB,
        (c, ldc): (*mut f32, usize),
        init: Init,
    ) -> Self {
        Gemm {
            m,
            n,
            k,
            a,
            b,
            c,
            ldc,
            init,
            relu: false,
            positive: std::ptr::null(),
        }
    }

    /// The same product, storing `max(C, 0)` (ReLU) instead of `C`.
    pub(super) fn with_relu(self) -> Self {
        Gemm { relu: true, ..self }
    }

    /// The same product, storing `C` where `y > 0` and 0 elsewhere (`y` laid out as `C`).
    pub(super) fn where_positive(self, y: *const f32) -> Self {
        Gemm {
            positive: y,
            ..self
        }
    }

    /// Whether `B` is read in place: packing costs about as much as one pass of `MR` rows over
    /// `B`, so it is skipped when there is only one such pass and `B`'s rows are usable as they
    /// are. A panel narrower than `nr` (the last, when `nr` does not divide `N`) is packed
    /// anyway: zero-padded, it is read with whole loads, where in place each `k` would need
    /// masked ones.
    fn direct<const MR: usize>(&self, nr: usize, width: usize) -> Option<(*const f32, usize)> {
        match self.b {
            MatB::Rows { ptr, ld } if width == nr && (self.m <= MR || self.in_cache()) => {
                Some((ptr, ld))
            }
            _ => None,
        }
    }

    /// Whether `A` and `B` together fit in L2 with room to spare, with `K` in one block: then
    /// they stay in cache whatever the order of reads, and copying them into the micro-kernel's
    /// layouts would cost more than it saves.
    fn in_cache(&self) -> bool {
        self.k <= KC && (self.m + self.n) * self.k <= IN_CACHE
    }

    /// How the micro-kernels read `A`. It is copied by blocks into slivers of `MR` rows, `MR`
    /// values per `k`, so that the micro-kernel reads it through one pointer with each sliver's
    /// values in one or two cache lines; it is read in place when it is a column-major single
    /// tile (its columns are such slivers already), or when all of it stays in cache anyway.
    fn layout_a<const MR: usize>(&self) -> LayoutA {
        debug_assert!(self.a.rs == 1 || self.a.cs == 1);
        match LayoutA::in_place(self.a) {
            Some(LayoutA::Columns(ld)) if self.m <= MR => LayoutA::Columns(ld),
            Some(layout) if self.in_cache() => layout,
            _ => LayoutA::Packed,
        }
    }

    /// Panel `p` (columns `p·NR..`) of rows `first..end` of `C`, for `K` from `k0` to
    /// `k0 + kc`: copies the panel's block of `B` to `packed_b` unless `B` is read in place,
    /// then runs the tiles.
    ///
    /// # Safety
    /// As [`Gemm::run`]; `p` is a panel of `C` (`p·NR < n`), `first < end ≤ m` and
    /// `k0 + kc ≤ k`; `block_a` holds rows `first..end` and `K` from `k0` in `layout`, and
    /// `packed_b` has room for a `kc × NR` block unless `B` is read in place.
    #[inline(always)]
    unsafe fn panel<S: Vector, const MR: usize, const NV: usize>(
        &self,
        (first, end): (usize, usize),
        (k0, kc): (usize, usize),
        p: usize,
        (block_a, layout): (*const f32, LayoutA),
        packed_b: *mut f32,
    ) {
        let nr = NV * S::LANES;
        let n0 = p * nr;
        let width = nr.min(self.n - n0);
        let (b, bks) = match self.direct::<MR>(nr, width) {
            // Wrapping: with `K = 0`, `B` is empty and this block is never read.
            Some((ptr, ld)) => (ptr.wrapping_add(k0 * ld + n0), ld),
            None => {
                // SAFETY: the CPU supports `S` and `B` is valid for its sizes (the contract of
                // `run`); the panel's columns `n0..n0 + width` and rows `k0..k0 + kc` are within
                // them, and `packed_b` has room for `kc` rows of `NR` (this function's contract).
                unsafe { pack_panel::<S, NV>(self.b, (n0, width), (k0, kc, self.k), packed_b) };
                (packed_b.cast_const(), nr)
            }
        };
        let last = k0 + kc == self.k;
        let init = match self.init {
            _ if k0 > 0 => Init::Load,
            // SAFETY: the bias holds `n` values (the contract of `run`), and `n0 < n`.
            Init::Bias(bias) => Init::Bias(unsafe { bias.add(n0) }),
            other => other,
        };
        let tile = Tile {
            k: kc,
            b,
            bks,
            width,
            init,
            relu: self.relu && last,
            positive: if self.positive.is_null() || !last {
                std::ptr::null()
            } else {
                // SAFETY: `Y` is laid out as `C` and valid like it (the contract of `run`), and
                // `(first, n0)` is an element of `C`.
                unsafe { self.positive.add(first * self.ldc + n0) }
            },
        };
        // SAFETY: `(first, n0)` is an element of `C`, which is valid for its sizes.
        let c = unsafe { self.c.add(first * self.ldc + n0) };
        // SAFETY: `block_a` holds rows `first..end` in `layout` (this function's contract) and
        // `b` the panel's `kc` rows of `B`, in place or copied above; the tile's bias (from
        // `n0`), `c` and `positive` (at row `first`, column `n0`) are within the bias, `C` and
        // `Y` for the panel's `width` columns and the rows `first..end`.
        unsafe { row_blocks::<S, MR, NV>(end - first, block_a, layout, &tile, c, self.ldc) };
    }

    /// Floats of scratch space [`Gemm::part`] will use (a packed block of `A`, then a packed
    /// block of `B`), plus room to align it.
    ///
    /// Saturating: a size past `usize::MAX` is one no buffer reaches, so growing the scratch
    /// to it panics rather than leaving a short buffer behind a wrapped size. (The blocks are
    /// at most `MC × KC` and `KC × NR` floats, so this does not happen.)
    pub(super) fn scratch_needed<S: Vector, const MR: usize, const NV: usize>(&self) -> usize {
        let (mc, kc) = (self.mc::<MR>(), self.kc::<S>());
        (mc.div_ceil(MR) * MR)
            .saturating_mul(kc)
            .saturating_add(self.b_block::<S, MR, NV>(kc))
            .saturating_add(16)
    }

    /// Floats of scratch space [`Gemm::shared`] will use (a packed block of `A` for all of
    /// `K`, then a packed block of `B`), plus room to align it. Saturating, as
    /// [`Gemm::scratch_needed`]: at least `MR` rows of all of `K` are packed, which for a
    /// large enough `K` would not fit.
    pub(super) fn shared_scratch_needed<S: Vector, const MR: usize, const NV: usize>(
        &self,
    ) -> usize {
        let (mc, kc) = (self.shared_mc::<MR>(), self.kc::<S>());
        (mc.div_ceil(MR) * MR)
            .saturating_mul(self.k)
            .saturating_add(self.b_block::<S, MR, NV>(kc))
            .saturating_add(16)
    }

    /// Floats of a packed `kc × NR` block of `B` (none when every panel of `B` is read in
    /// place).
    fn b_block<S: Vector, const MR: usize, const NV: usize>(&self, kc: usize) -> usize {
        let nr = NV * S::LANES;
        match self.direct::<MR>(nr, nr) {
            Some(_) if self.n.is_multiple_of(nr) => 0,
            _ => kc.saturating_mul(nr),
        }
    }

    /// Rows per block of a shared product: as [`Gemm::mc`], but with a packed block of `A` of
    /// all of `K` within [`SHARED_A`] floats.
    fn shared_mc<const MR: usize>(&self) -> usize {
        let most = (SHARED_A / self.k.max(1) / MR * MR).clamp(MR, MC / MR * MR);
        let blocks = self.m.div_ceil(most).max(1);
        if blocks == 1 {
            self.m
        } else {
            self.m.div_ceil(blocks).next_multiple_of(MR)
        }
    }

    /// Rows per block: at most [`MC`], a multiple of `MR` when there are several, all about
    /// the same.
    fn mc<const MR: usize>(&self) -> usize {
        let blocks = self.m.div_ceil(MC / MR * MR).max(1);
        if blocks == 1 {
            self.m
        } else {
            self.m.div_ceil(blocks).next_multiple_of(MR)
        }
    }

    /// Depth of the blocks of the `K` loop: at most [`KC`], a multiple of `LANES` when there
    /// are several, all about the same.
    fn kc<S: Vector>(&self) -> usize {
        let blocks = self.k.div_ceil(KC).max(1);
        if blocks == 1 {
            self.k
        } else {
            self.k.div_ceil(blocks).next_multiple_of(S::LANES)
        }
    }

    /// Computes the product, on two threads if it is large and `helper` is given (then
    /// `rows_done` is called once both are done), else on this one, calling
    /// `rows_done(first, end)` after each block of rows of `C` is final.
    ///
    /// # Safety
    /// The CPU supports `S`; `a`, `b` and `c` are valid for the sizes and strides (`c` for
    /// writing, not overlapping the others); a `Bias` pointer is valid for `n` values, and a
    /// `positive` one for reading like `c`;
    /// `helper`, if any, is [`Gemm::shared`] for `S`, `MR`, `NV`. `A`'s strides are `rs == 1`
    /// or `cs == 1`, and `MR ≤ LANES`.
    #[inline(always)]
    pub(super) unsafe fn run<S: Vector, const MR: usize, const NV: usize>(
        &self,
        scratch: &mut Vec<f32>,
        helper: Option<PartFn>,
        mut rows_done: impl FnMut(usize, usize),
    ) {
        let panels = self.n.div_ceil(NV * S::LANES);
        let large = self.m.saturating_mul(self.n).saturating_mul(self.k) >= PARALLEL_MIN;
        if let (true, true, Some(helper)) = (large, panels >= 2, helper) {
            // Both threads take (row block, panel) tasks in turn from `next`, so that a helper
            // that wakes up late, or not at all, only does less. Both go through `helper`,
            // compiled for the instruction set: a closure here would be compiled without it.
            let next = AtomicUsize::new(0);
            // SAFETY: `helper` is `Gemm::shared` for `S`, `MR` and `NV`, growing the scratch it
            // is given, and this product's pointers are valid (this function's contract). The
            // two threads take distinct tasks from `next`, which write disjoint parts of `C`,
            // and `run_pair` returns only once the helper thread is done with the product.
            let help = || super::with_scratch(|s| unsafe { helper(self, s, &next) });
            // SAFETY: as for `help`.
            if super::threads::run_pair(&help, || unsafe { helper(self, scratch, &next) }) {
                let mc = self.shared_mc::<MR>();
                let mut first = 0;
                while first < self.m {
                    let end = self.m.min(first + mc);
                    rows_done(first, end);
                    first = end;
                }
                return;
            }
        }
        super::reserve(scratch, self.scratch_needed::<S, MR, NV>());
        // SAFETY: this function's contract, and `scratch` was grown to `scratch_needed` above.
        unsafe { self.part::<S, MR, NV>(scratch, rows_done) };
    }

    /// This thread's share of a product shared by two threads: the tasks (row block, panel)
    /// it takes from `next`, in order. Each task is a whole panel (all of `K`) of a block of
    /// rows, so the two threads never write to the same part of `C`.
    ///
    /// # Safety
    /// As [`Gemm::run`]; `scratch` holds at least [`Gemm::shared_scratch_needed`] floats.
    #[inline(always)]
    pub(super) unsafe fn shared<S: Vector, const MR: usize, const NV: usize>(
        &self,
        scratch: &mut [f32],
        next: &AtomicUsize,
    ) {
        let Gemm { m, n, k, a, .. } = *self;
        if m == 0 || n == 0 {
            return;
        }
        let panels = n.div_ceil(NV * S::LANES);
        assert!(scratch.len() >= self.shared_scratch_needed::<S, MR, NV>());
        let mc = self.shared_mc::<MR>();
        let kc_size = self.kc::<S>();
        // SAFETY: `scratch` holds `shared_scratch_needed` floats (asserted above): at most 16
        // to align `packed_a`, then `mc` rows rounded up to `MR` for all of `K`, then
        // `packed_b`.
        let packed_a = unsafe {
            let offset = scratch.as_ptr().align_offset(64).min(16);
            scratch.as_mut_ptr().add(offset)
        };
        // SAFETY: as for `packed_a`.
        let packed_b = unsafe { packed_a.add(mc.div_ceil(MR) * MR * k) };
        let layout = self.layout_a::<MR>();
        let tasks = m.div_ceil(mc) * panels;
        let mut packed_block = usize::MAX;
        loop {
            let task = next.fetch_add(1, Ordering::Relaxed);
            if task >= tasks {
                break;
            }
            let (block, p) = (task / panels, task % panels);
            let first = block * mc;
            let end = m.min(first + mc);
            let rows = (end - first).div_ceil(MR) * MR;
            if layout == LayoutA::Packed && block != packed_block {
                // All of `K`, block after block: the block at `k0` starts at `k0 · rows`.
                let mut k0 = 0;
                while k0 < k {
                    let kc = kc_size.min(k - k0);
                    // SAFETY: rows `first..end` (`first < m`) and columns `k0..k0 + kc`
                    // (`0 < kc`, `k0 + kc ≤ k`) are within `A`, and the `rows × kc` floats from
                    // `k0 · rows` within the packed `A`, of `rows × k` (`rows ≤ mc` rounded up
                    // to `MR`). The rest as [`Gemm::run`], this function's contract.
                    unsafe {
                        pack_a_block::<S, MR>(a, first, end, k0, kc, packed_a.add(k0 * rows))
                    };
                    k0 += kc;
                }
                packed_block = block;
            }
            let mut k0 = 0;
            while k0 < k || (k0 == 0 && k == 0) {
                let kc = kc_size.min(k - k0);
                let block_a = if layout == LayoutA::Packed {
                    // SAFETY: within the packed `A`, as above (`k0 < k`, or `k0 = k = 0`).
                    unsafe { packed_a.add(k0 * rows).cast_const() }
                } else {
                    // Wrapping: with `K = 0`, `A` is empty and this block is never read.
                    a.ptr.wrapping_add(first * a.rs + k0 * a.cs)
                };
                // SAFETY: `p < panels`, `first < end ≤ m` and `k0 + kc ≤ k`; `block_a` holds
                // rows `first..end` from `k0` in `layout` (packed above, or `A` itself), and
                // `packed_b` has room for `kc_size` rows of `NR` (`shared_scratch_needed`). The
                // rest as [`Gemm::run`], this function's contract.
                unsafe {
                    self.panel::<S, MR, NV>((first, end), (k0, kc), p, (block_a, layout), packed_b)
                };
                k0 += kc_size.max(1);
            }
        }
    }

    /// The product, on this thread.
    ///
    /// # Safety
    /// As [`Gemm::run`], and `scratch` is large enough.
    #[inline(always)]
    pub(super) unsafe fn part<S: Vector, const MR: usize, const NV: usize>(
        &self,
        scratch: &mut [f32],
        mut rows_done: impl FnMut(usize, usize),
    ) {
        let Gemm { m, n, k, a, .. } = *self;
        if m == 0 || n == 0 {
            return;
        }
        assert!(scratch.len() >= self.scratch_needed::<S, MR, NV>());
        let mc = self.mc::<MR>();
        let kc_size = self.kc::<S>();
        // SAFETY: `scratch` holds `scratch_needed` floats (asserted above): at most 16 to align
        // `packed_a`, then `mc` rows rounded up to `MR` for `kc_size` of `K`, then `packed_b`.
        let packed_a = unsafe {
            let offset = scratch.as_ptr().align_offset(64).min(16);
            scratch.as_mut_ptr().add(offset)
        };
        // SAFETY: as for `packed_a`.
        let packed_b = unsafe { packed_a.add(mc.div_ceil(MR) * MR * kc_size) };
        let layout = self.layout_a::<MR>();

        // Loops as in BLIS: blocks of rows; blocks of `K`, each with its block of `A` packed
        // (in L2); panels of `B`, each with its `KC × NR` block packed (in L1); tiles.
        let mut first = 0;
        while first < m {
            let end = m.min(first + mc);
            let mut k0 = 0;
            while k0 < k || (k0 == 0 && k == 0) {
                let kc = kc_size.min(k - k0);
                let block_a = if layout == LayoutA::Packed {
                    // SAFETY: rows `first..end` (`first < m`) and columns `k0..k0 + kc`
                    // (`k0 + kc ≤ k`) are within `A`, and `kc > 0`: with `K = 0`, `A` is read
                    // in place (`layout_a`). `packed_a` has room for `mc` rows rounded up to
                    // `MR`, times `kc ≤ kc_size`. The rest as [`Gemm::run`], this function's
                    // contract.
                    unsafe { pack_a_block::<S, MR>(a, first, end, k0, kc, packed_a) };
                    packed_a.cast_const()
                } else {
                    // Wrapping: with `K = 0`, `A` is empty and this block is never read.
                    a.ptr.wrapping_add(first * a.rs + k0 * a.cs)
                };
                for p in 0..n.div_ceil(NV * S::LANES) {
                    // SAFETY: `p` is a panel of `C`, `first < end ≤ m` and `k0 + kc ≤ k`;
                    // `block_a` holds rows `first..end` from `k0` in `layout` (packed above, or
                    // `A` itself), and `packed_b` has room for `kc_size` rows of `NR`
                    // (`scratch_needed`). The rest as [`Gemm::run`], this function's contract.
                    unsafe {
                        self.panel::<S, MR, NV>(
                            (first, end),
                            (k0, kc),
                            p,
                            (block_a, layout),
                            packed_b,
                        )
                    };
                }
                k0 += kc_size.max(1);
            }
            rows_done(first, end);
            first = end;
        }
    }
}

/// Copies rows `first..end`, columns `k0..k0 + kc` of `A` to `dst` as slivers of `MR` rows:
/// sliver `s` holds `A(first + s·MR + i, k0 + kk)` at `s·MR·kc + kk·MR + i`.
///
/// # Safety
/// The CPU supports `S`, and `MR ≤ LANES`; `A` (`rs == 1` or `cs == 1`) is valid for these
/// rows and columns, with `kc > 0`; `dst` has room for `end − first` rows rounded up to `MR`,
/// times `kc`.
#[inline(always)]
unsafe fn pack_a_block<S: Vector, const MR: usize>(
    a: MatA,
    first: usize,
    end: usize,
    k0: usize,
    kc: usize,
    dst: *mut f32,
) {
    let lanes = S::LANES;
    debug_assert!(MR <= lanes);
    let mut i0 = first;
    let mut out = dst;
    while i0 < end {
        let rows = MR.min(end - i0);
        if a.rs == 1 {
            // Column-major: each column of the sliver is contiguous.
            // SAFETY: `A(i0, k0)`, within `A` (`i0 < end`, `kc > 0`).
            let mut src = unsafe { a.ptr.add(i0 + k0 * a.cs) };
            for kk in 0..kc {
                if kk + 8 < kc {
                    // SAFETY: `A(i0, k0 + kk + 8)`, within `A` (`kk + 8 < kc`); the CPU
                    // supports `S`.
                    unsafe { S::prefetch(src.add(8 * a.cs)) };
                }
                // SAFETY: `src` is at `A(i0, k0 + kk)`, and rows `i0..i0 + rows` (contiguous)
                // are within `A`; their `rows ≤ MR` floats at `kk·MR` are within the sliver.
                unsafe { S::store_n(out.add(kk * MR), S::load_n(src, rows), rows) };
                // Wrapping: after the last `k` it may point past `A`, and is not read.
                src = src.wrapping_add(a.cs);
            }
        } else {
            // Row-major: transposes of `rows × LANES` blocks, single values for the rest.
            // SAFETY: `A(i0, k0)`, within `A` (`i0 < end`, `kc > 0`).
            let src = unsafe { a.ptr.add(i0 * a.rs + k0) };
            let body = kc - kc % lanes;
            let mut kk = 0;
            while kk < body {
                if kk + PREFETCH < kc {
                    for r in 0..rows {
                        // SAFETY: `A(i0 + r, k0 + kk + PREFETCH)`, within `A` (`r < rows`,
                        // `kk + PREFETCH < kc`); the CPU supports `S`.
                        unsafe { S::prefetch(src.add(r * a.rs + kk + PREFETCH)) };
                    }
                }
                // SAFETY: the `rows ≤ MR ≤ LANES` rows of `A` from `A(i0, k0 + kk)` are valid
                // for `LANES` values (`kk + LANES ≤ body ≤ kc`); their transpose, `LANES`
                // columns of `rows` values `MR` apart from `kk·MR`, is within the sliver.
                unsafe { S::transpose(src.add(kk), a.rs, rows, out.add(kk * MR), MR, rows) };
                kk += lanes;
            }
            for kk in body..kc {
                for i in 0..rows {
                    // SAFETY: `A(i0 + i, k0 + kk)` and sliver position `kk·MR + i`, for
                    // `i < rows` and `kk < kc`.
                    unsafe { *out.add(kk * MR + i) = *src.add(i * a.rs + kk) };
                }
            }
        }
        // SAFETY: the end of this sliver, at most the end of `dst`'s room.
        out = unsafe { out.add(MR * kc) };
        i0 += MR;
    }
}

/// How the micro-kernels find `A(i, k)` in a block of `A`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LayoutA {
    /// Copied into slivers of `MR` rows: `a[(i / MR)·MR·kc + k·MR + i % MR]`.
    Packed,
    /// Read in place, column-major: `a[i + k·ld]`.
    Columns(usize),
    /// Read in place, row-major: `a[i·ld + k]`.
    Rows(usize),
}

impl LayoutA {
    /// The layout of `A` as it is, if the micro-kernels can read it in place.
    fn in_place(a: MatA) -> Option<Self> {
        if a.rs == 1 {
            Some(LayoutA::Columns(a.cs))
        } else if a.cs == 1 {
            Some(LayoutA::Rows(a.rs))
        } else {
            None
        }
    }
}

/// What the tiles of one panel share.
struct Tile {
    k: usize,
    /// `B` panel: `b[k·bks + j]`, `j < NR`, zero for `j ≥ width`.
    b: *const f32,
    bks: usize,
    /// Valid columns of the panel (`≤ NR`).
    width: usize,
    init: Init,
    /// Store `max(C, 0)`: the last block of `K` of a product with [`Gemm::relu`].
    relu: bool,
    /// [`Gemm::positive`] at the panel's first row, in the last block of `K`; else null.
    positive: *const f32,
}

/// The `rows` rows of one panel: full `MR` tiles, then the rest in tiles of 8, 4, 2, 1 rows.
///
/// # Safety
/// The CPU supports `S`; `a` holds the `rows` rows of a block of `A` in `layout`, for `t.k`
/// values of `k`; `t.b` holds `t.k` rows of `NR` values (zeros past `t.width`), `t.bks` apart,
/// and a `Bias` pointer `t.width` values; `c`, and `t.positive` unless null, hold `rows` rows of `t.width`
/// values, `ldc` apart (`c` for writing).
#[inline(always)]
unsafe fn row_blocks<S: Vector, const MR: usize, const NV: usize>(
    rows: usize,
    a: *const f32,
    layout: LayoutA,
    t: &Tile,
    c: *mut f32,
    ldc: usize,
) {
    let mut i = 0;
    while i + MR <= rows {
        // SAFETY: rows `i..i + MR`, one whole sliver (`i` is a multiple of `MR`), are among the
        // `rows` (this function's contract).
        unsafe { tile_any::<S, MR, MR, NV>(i, a, layout, t, c, ldc) };
        i += MR;
    }
    if MR > 8 && i + 8 <= rows {
        // SAFETY: rows `i..i + 8` are among the `rows`, and in the last sliver: fewer than `MR`
        // rows are left after the whole slivers.
        unsafe { tile_any::<S, MR, 8, NV>(i, a, layout, t, c, ldc) };
        i += 8;
    }
    if MR > 4 && i + 4 <= rows {
        // SAFETY: as for 8 rows.
        unsafe { tile_any::<S, MR, 4, NV>(i, a, layout, t, c, ldc) };
        i += 4;
    }
    if MR > 2 && i + 2 <= rows {
        // SAFETY: as for 8 rows.
        unsafe { tile_any::<S, MR, 2, NV>(i, a, layout, t, c, ldc) };
        i += 2;
    }
    if MR > 1 && i < rows {
        // SAFETY: as for 8 rows.
        unsafe { tile_any::<S, MR, 1, NV>(i, a, layout, t, c, ldc) };
    }
}

/// The tile of `R` rows starting at row `i` of the block.
///
/// # Safety
/// As [`row_blocks`]; rows `i..i + R` are among the block's `rows`, and in one sliver of `MR`
/// (`i % MR + R ≤ MR`).
#[inline(always)]
unsafe fn tile_any<S: Vector, const MR: usize, const R: usize, const NV: usize>(
    i: usize,
    a: *const f32,
    layout: LayoutA,
    t: &Tile,
    c: *mut f32,
    ldc: usize,
) {
    // SAFETY: row `i` of the block of `C`, among its `rows` (this function's contract).
    let c = unsafe { c.add(i * ldc) };
    let positive = if t.positive.is_null() {
        t.positive
    } else {
        // SAFETY: row `i` of the block of `Y`, laid out as `C`.
        unsafe { t.positive.add(i * ldc) }
    };
    let edge = t.width != NV * S::LANES;
    // `(first row, stride between rows, stride between k)`. Wrapping: with `K = 0`, `a` may
    // be an empty `A`, and nothing is read from it.
    let (a, rows_apart, ks_apart) = match layout {
        LayoutA::Packed => (a.wrapping_add((i / MR) * MR * t.k + i % MR), 1, MR),
        LayoutA::Columns(ld) => (a.wrapping_add(i), 1, ld),
        LayoutA::Rows(ld) => (a.wrapping_add(i * ld), ld, 1),
    };
    // SAFETY: `a`, `c` and `positive` are at row `i` of the block, which has the tile's `R` rows
    // (this function's contract): `A(i + r, k)` is at `a[r + k·ks_apart]`, or, `ROWS`, at
    // `a[r·rows_apart + k]`, for `r < R` and `k < t.k`. Without `edge`, `t.width == NR`.
    unsafe {
        match (edge, layout) {
            (false, LayoutA::Rows(_)) => {
                micro::<S, R, NV, false, true>(a, rows_apart, t, (c, positive), ldc)
            }
            (true, LayoutA::Rows(_)) => {
                micro::<S, R, NV, true, true>(a, rows_apart, t, (c, positive), ldc)
            }
            (false, _) => micro::<S, R, NV, false, false>(a, ks_apart, t, (c, positive), ldc),
            (true, _) => micro::<S, R, NV, true, false>(a, ks_apart, t, (c, positive), ldc),
        }
    }
}

/// One `R × NR` block of `C`, in registers for the whole `K` loop: `A(i, k)` is
/// `a[i + k·lda]`, or `a[i·lda + k]` with `ROWS`; `B(k, j)` is `t.b[k·t.bks + j]`, `NR` values
/// per `k` (zeros past an edge). With `EDGE`, only `t.width` columns of the bias and of `C` are
/// loaded and stored.
/// `positive` is [`Tile::positive`] moved to the tile's first row (null without).
///
/// Pointers to lanes past an edge, of which no value is read or written (`valid(j) == 0`), and
/// the pointers one step past the last `k`, may lie outside their buffers: they are formed with
/// `wrapping_add`, which is defined for any offset, and never dereferenced.
///
/// # Safety
/// The CPU supports `S`; `A(i, k)` is valid for `i < R` and `k < t.k`; `t` is as in
/// [`row_blocks`], with `t.width == NR` unless `EDGE`; `c`, and `positive` unless null, hold
/// `R` rows of `t.width` values, `ldc` apart (`c` for writing).
#[inline(always)]
unsafe fn micro<S: Vector, const R: usize, const NV: usize, const EDGE: bool, const ROWS: bool>(
    a: *const f32,
    lda: usize,
    t: &Tile,
    (c, positive): (*mut f32, *const f32),
    ldc: usize,
) {
    let lanes = S::LANES;
    let valid = |j: usize| t.width.saturating_sub(j * lanes).min(lanes);
    // SAFETY: the CPU supports `S` (this function's contract).
    let mut acc = [[unsafe { S::zero() }; NV]; R];
    if !matches!(t.init, Init::Load) && t.k >= PREFETCH_K {
        // `C` is only written, at the end: have its lines on the way meanwhile.
        for i in 0..R {
            for j in (0..NV * lanes).step_by(16) {
                // Past the edge of `C` for an edge tile: a hint, which never faults.
                // SAFETY: the CPU supports `S`, and a prefetch may be given any address.
                unsafe { S::prefetch_write(c.wrapping_add(i * ldc + j)) };
            }
        }
    }
    match t.init {
        Init::Zero => {}
        Init::Bias(bias) => {
            for j in 0..NV {
                // SAFETY: the bias holds `t.width` values (this function's contract), of which
                // the register from lane `j·LANES` reads `valid(j)`: all `LANES` without `EDGE`
                // (`t.width == NR`).
                let v = unsafe {
                    if EDGE {
                        S::load_n(bias.wrapping_add(j * lanes), valid(j))
                    } else {
                        S::load(bias.add(j * lanes))
                    }
                };
                for row in acc.iter_mut() {
                    row[j] = v;
                }
            }
        }
        Init::Load => {
            for (i, row) in acc.iter_mut().enumerate() {
                for (j, v) in row.iter_mut().enumerate() {
                    let p = c.wrapping_add(i * ldc + j * lanes);
                    // SAFETY: as for the bias, in row `i < R` of `C`.
                    *v = unsafe {
                        if EDGE {
                            S::load_n(p, valid(j))
                        } else {
                            S::load(p)
                        }
                    };
                }
            }
        }
    }
    let mut pa = a;
    let mut pb = t.b;
    for _ in 0..t.k {
        // SAFETY: the CPU supports `S`.
        let mut bv = [unsafe { S::zero() }; NV];
        for (j, v) in bv.iter_mut().enumerate() {
            // SAFETY: the row of `t.b` at `pb`, one of its `t.k`, holds `NR` values: a whole
            // panel read in place, or a packed one, zero-padded past an edge.
            *v = unsafe { S::load(pb.add(j * lanes)) };
        }
        for (i, row) in acc.iter_mut().enumerate() {
            // SAFETY: `pa` is at `A(0, k)` for this `k < t.k`, and `A(i, k)` is valid for
            // `i < R` (this function's contract); the CPU supports `S`.
            unsafe {
                let av = S::splat(*pa.add(if ROWS { i * lda } else { i }));
                for (v, &bj) in row.iter_mut().zip(&bv) {
                    *v = S::mul_add(av, bj, *v);
                }
            }
        }
        pa = pa.wrapping_add(if ROWS { 1 } else { lda });
        pb = pb.wrapping_add(t.bks);
    }
    // NOTE: a loop of its own. Folded into the store loop below, it made that loop too large
    // for the compiler to unroll, and the accumulators then lived on the stack, in every
    // product (2.5 times slower).
    if !positive.is_null() {
        for (i, row) in acc.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                let y = positive.wrapping_add(i * ldc + j * lanes);
                // SAFETY: as for the bias, in row `i < R` of `Y`, which is not null here.
                unsafe {
                    let y = if EDGE {
                        S::load_n(y, valid(j))
                    } else {
                        S::load(y)
                    };
                    *v = S::where_positive(y, *v);
                }
            }
        }
    }
    for (i, row) in acc.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            let p = c.wrapping_add(i * ldc + j * lanes);
            // SAFETY: as for the bias, in row `i < R` of `C`, which is valid for writing.
            unsafe {
                let v = if t.relu { S::relu(v) } else { v };
                if EDGE {
                    S::store_n(p, v, valid(j));
                } else {
                    S::store(p, v);
                }
            }
        }
    }
}

/// Copies columns `n0..n0 + width`, rows `k0..k0 + k` of `B` to `dst` as `k` rows of `NR`
/// floats, zero beyond `width` (`total_k`: rows of `B`, for prefetching).
///
/// # Safety
/// The CPU supports `S`; `B` is valid for its `total_k` rows (`k0 + k ≤ total_k`) and columns
/// `n0..n0 + width`, with `0 < width ≤ NR`; `dst` has room for `k` rows of `NR`.
#[inline(always)]
unsafe fn pack_panel<S: Vector, const NV: usize>(
    b: MatB,
    (n0, width): (usize, usize),
    (k0, k, total_k): (usize, usize, usize),
    dst: *mut f32,
) {
    let lanes = S::LANES;
    let nr = NV * lanes;
    match b {
        MatB::Rows { ptr, ld } => {
            for kk in 0..k {
                // SAFETY: `B(k0 + kk, n0)`, within `B` (`kk < k`, `width > 0`).
                let src = unsafe { ptr.add((k0 + kk) * ld + n0) };
                // SAFETY: row `kk < k` of `dst`.
                let out = unsafe { dst.add(kk * nr) };
                if k0 + kk + 4 < total_k {
                    for j in 0..NV {
                        // Possibly past the edge of `B`: a hint, which never faults.
                        // SAFETY: the CPU supports `S`, and a prefetch may be given any address.
                        unsafe { S::prefetch(src.wrapping_add(4 * ld + j * lanes)) };
                    }
                }
                for j in 0..NV {
                    let n = width.saturating_sub(j * lanes).min(lanes);
                    // SAFETY: the `n` values of this row of `B` from column `n0 + j·LANES` are
                    // within `width` (all `LANES` of them when `n == LANES`), and lanes
                    // `j·LANES..(j + 1)·LANES` within the `NR` of row `kk` of `dst`; the CPU
                    // supports `S`.
                    unsafe {
                        let v = if n == lanes {
                            S::load(src.add(j * lanes))
                        } else {
                            // Wrapping: past the edge (`n == 0`) nothing is read.
                            S::load_n(src.wrapping_add(j * lanes), n)
                        };
                        S::store(out.add(j * lanes), v);
                    }
                }
            }
        }
        MatB::Cols { ptr, ld } => {
            // dst[kk·nr + j] = ptr[(n0 + j)·ld + kk]: transposes of `LANES` columns by
            // `LANES` values of `k`, single values for the rest of `k`, zeros beyond `width`.
            let k_body = k - k % lanes;
            for j in 0..NV {
                let j0 = j * lanes;
                let rows = width.saturating_sub(j0).min(lanes);
                // Wrapping: past the edge (`rows == 0`) nothing is read from `src`.
                let src = ptr.wrapping_add((n0 + j0.min(width)) * ld + k0);
                // Wrapping: with `k = 0` (a product over no inputs) `dst` has room for nothing,
                // and nothing is written through `out`.
                let out = dst.wrapping_add(j0);
                let mut kk = 0;
                while kk < k_body {
                    // The source rows are far apart: too many streams for the hardware
                    // prefetcher.
                    if k0 + kk + PREFETCH < total_k {
                        for r in 0..rows {
                            // SAFETY: `B(k0 + kk + PREFETCH, n0 + j0 + r)`, within `B`
                            // (`r < rows`, so within `width`); the CPU supports `S`.
                            unsafe { S::prefetch(src.add(r * ld + kk + PREFETCH)) };
                        }
                    }
                    // SAFETY: the `rows` columns of `B` from `n0 + j0` (those within `width`)
                    // are valid for `LANES` values of `k` from `k0 + kk` (`kk + LANES ≤ k`), and
                    // their transpose, `LANES` values of rows `kk..kk + LANES` of `dst` from
                    // column `j0`, is within it; the CPU supports `S`.
                    unsafe {
                        S::transpose(src.wrapping_add(kk), ld, rows, out.add(kk * nr), nr, lanes)
                    };
                    kk += lanes;
                }
                for kk in k_body..k {
                    for r in 0..lanes {
                        // SAFETY: row `kk < k` of `dst`, column `j0 + r < NR`; `B` is read
                        // only for `r < rows`, within `width`, as above.
                        unsafe {
                            *out.add(kk * nr + r) =
                                if r < rows { *src.add(r * ld + kk) } else { 0.0 }
                        };
                    }
                }
            }
        }
    }
}

/// `z = x·Wᵀ + b`, or `z += x·Wᵀ` with `accumulate`, as dot products of rows of `x` (`m × k`)
/// and rows of `W` (`n × k`), `R` rows against `NW` weight rows at a time (`R·NW == LANES`),
/// with the lanes of all `R·NW` accumulators summed at once into one register. `rows_done`
/// once at the end: this path is for products with few outputs, which are still in cache.
///
/// # Safety
/// The CPU supports `S`; `x`, `w`, `b` (unless null: no bias) and `z` are valid for these
/// sizes, `z` for reading and writing; `R·NW == LANES`.
#[inline(always)]
pub(super) unsafe fn dot_forward<S: Vector, const R: usize, const NW: usize>(
    (m, n, k): (usize, usize, usize),
    x: *const f32,
    w: *const f32,
    b: *const f32,
    z: *mut f32,
    accumulate: bool,
    mut rows_done: impl FnMut(usize, usize),
) {
    debug_assert_eq!(R * NW, S::LANES);
    if m == 0 || n == 0 {
        return;
    }
    let lanes = S::LANES;
    let k_body = k - k % lanes;
    let k_rest = k - k_body;
    // Whole rows of `z` are `NW` lanes: `R` rows are one register.
    let contiguous = NW == n;
    let mut n0 = 0;
    while n0 < n {
        let cols = NW.min(n - n0);
        // Weight rows past the end repeat the last one; their sums are not stored.
        let mut wr = [w; NW];
        for (c, p) in wr.iter_mut().enumerate() {
            // SAFETY: row `n0 + min(c, cols − 1) < n` of `W`.
            *p = unsafe { w.add((n0 + c.min(cols - 1)) * k) };
        }
        // The bias of lane `r·NW + c` is `b[n0 + c]`.
        let mut pattern = [0.0f32; 16];
        for r in 0..R {
            for c in 0..cols {
                if !b.is_null() {
                    // SAFETY: `n0 + c < n`.
                    pattern[r * NW + c] = unsafe { *b.add(n0 + c) };
                }
            }
        }
        // SAFETY: `pattern` holds a whole register (no `Vector` has more than 16 lanes); the
        // CPU supports `S`.
        let bias = unsafe { S::load(pattern.as_ptr()) };
        let mut m0 = 0;
        while m0 < m {
            let rows = R.min(m - m0);
            let mut xr = [x; R];
            for (r, p) in xr.iter_mut().enumerate() {
                // SAFETY: row `m0 + min(r, rows − 1) < m` of `x`.
                *p = unsafe { x.add((m0 + r.min(rows - 1)) * k) };
            }
            // SAFETY: the CPU supports `S`.
            let mut acc = [[unsafe { S::zero() }; NW]; R];
            let mut kk = 0;
            while kk < k_body {
                // SAFETY: the rows of `x` in `xr` and of `W` in `wr` hold `k ≥ kk + LANES`
                // values; the CPU supports `S`.
                unsafe {
                    let mut xv = [S::zero(); R];
                    for (v, p) in xv.iter_mut().zip(&xr) {
                        *v = S::load(p.add(kk));
                    }
                    for (c, p) in wr.iter().enumerate() {
                        let wv = S::load(p.add(kk));
                        for (row, &xi) in acc.iter_mut().zip(&xv) {
                            row[c] = S::mul_add(xi, wv, row[c]);
                        }
                    }
                }
                kk += lanes;
            }
            if k_rest > 0 {
                // SAFETY: as above, for the last `k_rest` values of each row.
                unsafe {
                    let mut xv = [S::zero(); R];
                    for (v, p) in xv.iter_mut().zip(&xr) {
                        *v = S::load_n(p.add(k_body), k_rest);
                    }
                    for (c, p) in wr.iter().enumerate() {
                        let wv = S::load_n(p.add(k_body), k_rest);
                        for (row, &xi) in acc.iter_mut().zip(&xv) {
                            row[c] = S::mul_add(xi, wv, row[c]);
                        }
                    }
                }
            }
            // SAFETY: the CPU supports `S`.
            let mut sums = unsafe { S::add(S::sums(&acc), bias) };
            if accumulate {
                // The values already there, in the lanes their sums take.
                let mut old = [0.0f32; 16];
                for r in 0..rows {
                    for c in 0..cols {
                        // SAFETY: row `m0 + r < m`, column `n0 + c < n` of `z`.
                        old[r * NW + c] = unsafe { *z.add((m0 + r) * n + n0 + c) };
                    }
                }
                // SAFETY: `old` holds a whole register, as `pattern`; the CPU supports `S`.
                sums = unsafe { S::add(sums, S::load(old.as_ptr())) };
            }
            // SAFETY: rows `m0..m0 + rows` of `z` (`≤ m`), columns `n0..n0 + cols` (`≤ n`):
            // whole rows when contiguous (`NW == n`), `rows·n ≤ R·NW = LANES` values; else
            // `cols ≤ NW` values of each row, lanes `r·NW..r·NW + cols` of the register.
            unsafe {
                if contiguous {
                    S::store_n(z.add(m0 * n), sums, rows * n);
                } else if R == 1 {
                    S::store_n(z.add(m0 * n + n0), sums, cols);
                } else {
                    for r in 0..rows {
                        S::store_lanes(z.add((m0 + r) * n + n0), sums, r * NW, cols);
                    }
                }
            }
            m0 += rows;
        }
        n0 += NW;
    }
    rows_done(0, m);
}

/// `db (+)= Σ_rows dz` (`dz` is `rows × n`).
///
/// # Safety
/// The CPU supports `S`; `dz` holds `rows·n` values and `db` `n`.
#[inline(always)]
pub(super) unsafe fn column_sums<S: Vector>(
    rows: usize,
    n: usize,
    dz: *const f32,
    db: *mut f32,
    accumulate: bool,
) {
    let lanes = S::LANES;
    let mut j = 0;
    while j < n {
        let width = lanes.min(n - j);
        // SAFETY: `db[j..j + width]`, within its `n` values; the CPU supports `S`.
        let mut acc = unsafe {
            if accumulate {
                S::load_n(db.add(j), width)
            } else {
                S::zero()
            }
        };
        for r in 0..rows {
            // SAFETY: `dz[r·n + j..][..width]`, within row `r < rows` of `dz`.
            acc = unsafe { S::add(acc, S::load_n(dz.add(r * n + j), width)) };
        }
        // SAFETY: as for the load from `db`.
        unsafe { S::store_n(db.add(j), acc, width) };
        j += lanes;
    }
}
