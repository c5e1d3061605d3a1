//! One SIMD register of `f32` lanes, for each instruction set the kernels are compiled for.
//!
//! The GEMM driver and its micro-kernels are written once, generically over [`Vector`], and
//! instantiated for AVX-512 (16 lanes), AVX2 + FMA (8 lanes) and plain Rust (4 lanes, any CPU).
//!
//! Every method is `#[inline(always)]` and `unsafe`: the x86 ones must only run inside a function
//! compiled with the matching `#[target_feature]` (the kernels' entry points check the CPU
//! first), and all of them read or write raw pointers that the caller vouches for.

/// A register of [`LANES`](Vector::LANES) `f32` values and the operations the kernels need.
///
/// # Safety (of every method)
/// The CPU must support the instruction set of the implementation, and every pointer must be
/// valid for the lanes read or written (`n` lanes for the `_n` variants, all lanes otherwise).
/// With `n == 0` nothing is read or written, and the pointer may lie outside any buffer (the
/// kernels form such pointers with `wrapping_add`).
pub(super) trait Vector: Copy {
    /// Number of `f32` lanes.
    const LANES: usize;
    /// The register type.
    type V: Copy;

    /// All lanes zero.
    unsafe fn zero() -> Self::V;
    /// All lanes `x`.
    unsafe fn splat(x: f32) -> Self::V;
    /// `LANES` values from `p` (any alignment).
    unsafe fn load(p: *const f32) -> Self::V;
    /// The first `n ≤ LANES` values from `p`, zero above; lanes `≥ n` are not read.
    unsafe fn load_n(p: *const f32, n: usize) -> Self::V;
    /// Writes all lanes to `p`.
    unsafe fn store(p: *mut f32, v: Self::V);
    /// Writes the first `n ≤ LANES` lanes to `p`; memory above is not touched.
    unsafe fn store_n(p: *mut f32, v: Self::V, n: usize);
    /// Writes lanes `first..first + n` (`≤ LANES`) to `p[..n]`; memory above is not touched.
    unsafe fn store_lanes(p: *mut f32, v: Self::V, first: usize, n: usize) {
        let mut lanes = [0.0f32; 16];
        // SAFETY: the caller guarantees the CPU and `p` valid for `n` lanes (the trait's
        // contract). `lanes` holds a whole register (no `Vector` has more than 16 lanes), and
        // lanes `first..first + n` of it, within `LANES`, are read back.
        unsafe {
            Self::store(lanes.as_mut_ptr(), v);
            Self::store_n(p, Self::load_n(lanes.as_ptr().add(first), n), n);
        }
    }
    /// `a·b + c` (fused where the CPU has FMA).
    unsafe fn mul_add(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `a + b`.
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    /// ReLU of each lane, `x < 0 ? 0 : x`: `NaN` and `−0` pass through, as in [`crate::ReLU`].
    unsafe fn relu(v: Self::V) -> Self::V;
    /// Each lane of `v` where that of `y` is above zero, else `+0`: ReLU's backward pass
    /// (`y` its output), a select like PyTorch's `threshold_backward`.
    unsafe fn where_positive(y: Self::V, v: Self::V) -> Self::V;
    /// Lane `i` of the result is the sum of the lanes of `acc[i / NW][i % NW]`
    /// (`R·NW == LANES`).
    unsafe fn sums<const R: usize, const NW: usize>(acc: &[[Self::V; NW]; R]) -> Self::V;
    /// Hints that the cache line holding `p` will be read soon (never faults).
    #[inline(always)]
    unsafe fn prefetch(_p: *const f32) {}

    /// Hints that the cache line holding `p` will be written soon (never faults).
    #[inline(always)]
    unsafe fn prefetch_write(_p: *const f32) {}

    /// Transposes a block of `rows ≤ LANES` rows of `LANES` values (rows `ld` apart, missing
    /// rows taken as zero): writes `width ≤ LANES` values of each of the `LANES` columns,
    /// `dst[c·ldd + r] = src[r·ld + c]` for `r < width`.
    #[inline(always)]
    unsafe fn transpose(
        src: *const f32,
        ld: usize,
        rows: usize,
        dst: *mut f32,
        ldd: usize,
        width: usize,
    ) {
        for c in 0..Self::LANES {
            for r in 0..width {
                // SAFETY: the caller guarantees `dst` valid for `width` values of each column,
                // `ldd` apart, and `src` for `rows` rows of `LANES` values, `ld` apart (the
                // trait's contract); `src` is read only for `r < rows`.
                unsafe {
                    *dst.add(c * ldd + r) = if r < rows { *src.add(r * ld + c) } else { 0.0 }
                };
            }
        }
    }
}

/// Plain Rust, four lanes: correct on any CPU, and vectorised by LLVM where the target allows.
#[derive(Clone, Copy, Debug)]
pub(super) struct Portable;

impl Vector for Portable {
    const LANES: usize = 4;
    type V = [f32; 4];

    #[inline(always)]
    unsafe fn zero() -> [f32; 4] {
        [0.0; 4]
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> [f32; 4] {
        [x; 4]
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> [f32; 4] {
        // SAFETY: the caller guarantees `p` valid for reading 4 lanes (the trait's contract);
        // `read_unaligned` needs no alignment.
        unsafe { p.cast::<[f32; 4]>().read_unaligned() }
    }
    #[inline(always)]
    unsafe fn load_n(p: *const f32, n: usize) -> [f32; 4] {
        let mut v = [0.0; 4];
        for (i, lane) in v.iter_mut().enumerate().take(n) {
            // SAFETY: `i < n`, and the caller guarantees `p` valid for `n` lanes (the trait's
            // contract).
            *lane = unsafe { *p.add(i) };
        }
        v
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: [f32; 4]) {
        // SAFETY: the caller guarantees `p` valid for writing 4 lanes (the trait's contract);
        // `write_unaligned` needs no alignment.
        unsafe { p.cast::<[f32; 4]>().write_unaligned(v) };
    }
    #[inline(always)]
    unsafe fn store_n(p: *mut f32, v: [f32; 4], n: usize) {
        for (i, &lane) in v.iter().enumerate().take(n) {
            // SAFETY: `i < n`, and the caller guarantees `p` valid for writing `n` lanes (the
            // trait's contract).
            unsafe { *p.add(i) = lane };
        }
    }
    #[inline(always)]
    unsafe fn mul_add(a: [f32; 4], b: [f32; 4], c: [f32; 4]) -> [f32; 4] {
        // Separate multiply and add: without hardware FMA, `f32::mul_add` is a library call.
        #[cfg(target_arch = "aarch64")]
        return std::array::from_fn(|i| a[i].mul_add(b[i], c[i]));
        #[cfg(not(target_arch = "aarch64"))]
        std::array::from_fn(|i| a[i] * b[i] + c[i])
    }
    #[inline(always)]
    unsafe fn add(a: [f32; 4], b: [f32; 4]) -> [f32; 4] {
        std::array::from_fn(|i| a[i] + b[i])
    }
    #[inline(always)]
    unsafe fn relu(v: [f32; 4]) -> [f32; 4] {
        v.map(|x| if x < 0.0 { 0.0 } else { x })
    }
    #[inline(always)]
    unsafe fn where_positive(y: [f32; 4], v: [f32; 4]) -> [f32; 4] {
        std::array::from_fn(|i| if y[i] > 0.0 { v[i] } else { 0.0 })
    }
    #[inline(always)]
    unsafe fn sums<const R: usize, const NW: usize>(acc: &[[[f32; 4]; NW]; R]) -> [f32; 4] {
        std::array::from_fn(|i| {
            let v = acc[i / NW][i % NW];
            (v[0] + v[2]) + (v[1] + v[3])
        })
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) use x86::{Avx2, Avx512};

// The AVX-512 intrinsics and the `avx512f` target feature are stable since Rust 1.89, the
// workspace's `rust-version`.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Vector;
    use std::arch::x86_64::*;

    /// AVX2 with FMA: eight lanes (`__m256`).
    #[derive(Clone, Copy, Debug)]
    pub(in crate::kernel) struct Avx2;

    /// A lane mask for `_mm256_maskload_ps` / `_mm256_maskstore_ps`: lanes below `n` set.
    ///
    /// # Safety
    /// The CPU supports AVX2.
    #[inline(always)]
    unsafe fn mask8(n: usize) -> __m256i {
        // SAFETY: the caller guarantees AVX2 (this function's contract).
        unsafe {
            _mm256_cmpgt_epi32(
                _mm256_set1_epi32(n as i32),
                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
            )
        }
    }

    impl Vector for Avx2 {
        const LANES: usize = 8;
        type V = __m256;

        #[inline(always)]
        unsafe fn zero() -> __m256 {
            // SAFETY: the caller guarantees AVX2 and FMA, this impl's instruction set, for
            // every method (the trait's contract); this one touches no memory.
            unsafe { _mm256_setzero_ps() }
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> __m256 {
            // SAFETY: AVX2, as for `zero`.
            unsafe { _mm256_set1_ps(x) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m256 {
            // SAFETY: AVX2 as for `zero`, and the caller guarantees `p` valid for reading 8
            // lanes (the trait's contract); `loadu` needs no alignment.
            unsafe { _mm256_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn load_n(p: *const f32, n: usize) -> __m256 {
            // Masked-off lanes are neither read nor able to fault.
            // SAFETY: AVX2 as for `zero`, and the caller guarantees `p` valid for reading the
            // `n` lanes the mask lets through (the trait's contract).
            unsafe { _mm256_maskload_ps(p, mask8(n)) }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m256) {
            // SAFETY: AVX2 as for `zero`, and the caller guarantees `p` valid for writing 8
            // lanes (the trait's contract); `storeu` needs no alignment.
            unsafe { _mm256_storeu_ps(p, v) };
        }
        #[inline(always)]
        unsafe fn store_n(p: *mut f32, v: __m256, n: usize) {
            // SAFETY: AVX2 as for `zero`, and the caller guarantees `p` valid for writing the
            // `n` lanes the mask lets through (the trait's contract); the others are not
            // touched.
            unsafe { _mm256_maskstore_ps(p, mask8(n), v) };
        }
        #[inline(always)]
        unsafe fn mul_add(a: __m256, b: __m256, c: __m256) -> __m256 {
            // SAFETY: FMA, as for `zero`.
            unsafe { _mm256_fmadd_ps(a, b, c) }
        }
        #[inline(always)]
        unsafe fn add(a: __m256, b: __m256) -> __m256 {
            // SAFETY: AVX2, as for `zero`.
            unsafe { _mm256_add_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn relu(v: __m256) -> __m256 {
            // `max` returns its second operand when either is `NaN`, or both are zeros.
            // SAFETY: AVX2, as for `zero`.
            unsafe { _mm256_max_ps(_mm256_setzero_ps(), v) }
        }
        #[inline(always)]
        unsafe fn where_positive(y: __m256, v: __m256) -> __m256 {
            // SAFETY: AVX2, as for `zero`.
            unsafe { _mm256_and_ps(_mm256_cmp_ps::<_CMP_GT_OQ>(y, _mm256_setzero_ps()), v) }
        }
        #[inline(always)]
        unsafe fn prefetch(p: *const f32) {
            // SAFETY: SSE is part of x86-64, and a prefetch is a hint, which never faults,
            // whatever the address.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast()) };
        }
        #[inline(always)]
        unsafe fn prefetch_write(p: *const f32) {
            // `prefetchw`, a no-op on the few x86-64 CPUs without it.
            // SAFETY: as for `prefetch`.
            unsafe { _mm_prefetch::<_MM_HINT_ET0>(p.cast()) };
        }
        #[inline(always)]
        unsafe fn sums<const R: usize, const NW: usize>(acc: &[[__m256; NW]; R]) -> __m256 {
            // SAFETY: AVX2, as for `zero`; only registers are read and written.
            unsafe {
                // (No closures here or below: a closure is compiled without the caller's target
                // features, and the intrinsics in it might then not be inlined.)
                let mut v = [_mm256_setzero_ps(); 8];
                for (i, v) in v.iter_mut().enumerate() {
                    *v = acc[i / NW][i % NW];
                }
                // Pairs: per 128-bit half, [a0+a2, b0+b2, a1+a3, b1+b3].
                let mut s = [_mm256_setzero_ps(); 4];
                for (p, s) in s.iter_mut().enumerate() {
                    let (a, b) = (v[2 * p], v[2 * p + 1]);
                    *s = _mm256_add_ps(_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b));
                }
                // Quads: per 128-bit half, the partial sums of four vectors in order.
                let mut t = [_mm256_setzero_ps(); 2];
                for (q, t) in t.iter_mut().enumerate() {
                    let (a, b) = (_mm256_castps_pd(s[2 * q]), _mm256_castps_pd(s[2 * q + 1]));
                    *t = _mm256_add_ps(
                        _mm256_castpd_ps(_mm256_unpacklo_pd(a, b)),
                        _mm256_castpd_ps(_mm256_unpackhi_pd(a, b)),
                    );
                }
                _mm256_add_ps(
                    _mm256_permute2f128_ps::<0x20>(t[0], t[1]),
                    _mm256_permute2f128_ps::<0x31>(t[0], t[1]),
                )
            }
        }
        #[inline(always)]
        unsafe fn transpose(
            src: *const f32,
            ld: usize,
            rows: usize,
            dst: *mut f32,
            ldd: usize,
            width: usize,
        ) {
            // SAFETY: AVX2 as for `zero`. The caller guarantees `src` valid for `rows` rows of
            // 8 values, `ld` apart, and `dst` for `width` values of each of the 8 columns, `ldd`
            // apart (the trait's contract): only rows `i < rows` are loaded, and a column is
            // stored whole only when `width == 8`, else through a mask of `width` lanes.
            unsafe {
                let mut r = [_mm256_setzero_ps(); 8];
                for (i, r) in r.iter_mut().enumerate().take(rows) {
                    *r = _mm256_loadu_ps(src.add(i * ld));
                }
                let mut a = [_mm256_setzero_ps(); 8];
                for p in 0..4 {
                    a[2 * p] = _mm256_unpacklo_ps(r[2 * p], r[2 * p + 1]);
                    a[2 * p + 1] = _mm256_unpackhi_ps(r[2 * p], r[2 * p + 1]);
                }
                // b[4i + j], per 128-bit half g: rows 4i..4i+4 of column 4g + j.
                let mut b = [_mm256_setzero_ps(); 8];
                for i in 0..2 {
                    for h in 0..2 {
                        let (x, y) = (
                            _mm256_castps_pd(a[4 * i + h]),
                            _mm256_castps_pd(a[4 * i + h + 2]),
                        );
                        b[4 * i + 2 * h] = _mm256_castpd_ps(_mm256_unpacklo_pd(x, y));
                        b[4 * i + 2 * h + 1] = _mm256_castpd_ps(_mm256_unpackhi_pd(x, y));
                    }
                }
                let mask = mask8(width);
                for j in 0..4 {
                    let lo = _mm256_permute2f128_ps::<0x20>(b[j], b[4 + j]);
                    let hi = _mm256_permute2f128_ps::<0x31>(b[j], b[4 + j]);
                    if width == 8 {
                        _mm256_storeu_ps(dst.add(j * ldd), lo);
                        _mm256_storeu_ps(dst.add((4 + j) * ldd), hi);
                    } else {
                        _mm256_maskstore_ps(dst.add(j * ldd), mask, lo);
                        _mm256_maskstore_ps(dst.add((4 + j) * ldd), mask, hi);
                    }
                }
            }
        }
    }

    /// AVX-512F: sixteen lanes (`__m512`), masked loads and stores for the edges.
    #[derive(Clone, Copy, Debug)]
    pub(in crate::kernel) struct Avx512;

    #[inline(always)]
    fn mask16(n: usize) -> __mmask16 {
        ((1u32 << n) - 1) as __mmask16
    }

    impl Vector for Avx512 {
        const LANES: usize = 16;
        type V = __m512;

        #[inline(always)]
        unsafe fn zero() -> __m512 {
            // SAFETY: the caller guarantees AVX-512F, this impl's instruction set, for every
            // method (the trait's contract); this one touches no memory.
            unsafe { _mm512_setzero_ps() }
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> __m512 {
            // SAFETY: AVX-512F, as for `zero`.
            unsafe { _mm512_set1_ps(x) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m512 {
            // SAFETY: AVX-512F as for `zero`, and the caller guarantees `p` valid for reading
            // 16 lanes (the trait's contract); `loadu` needs no alignment.
            unsafe { _mm512_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn load_n(p: *const f32, n: usize) -> __m512 {
            // Masked-off lanes are neither read nor able to fault.
            // SAFETY: AVX-512F as for `zero`, and the caller guarantees `p` valid for reading
            // the `n` lanes the mask lets through (the trait's contract).
            unsafe { _mm512_maskz_loadu_ps(mask16(n), p) }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m512) {
            // SAFETY: AVX-512F as for `zero`, and the caller guarantees `p` valid for writing
            // 16 lanes (the trait's contract); `storeu` needs no alignment.
            unsafe { _mm512_storeu_ps(p, v) };
        }
        #[inline(always)]
        unsafe fn store_n(p: *mut f32, v: __m512, n: usize) {
            // SAFETY: AVX-512F as for `zero`, and the caller guarantees `p` valid for writing
            // the `n` lanes the mask lets through (the trait's contract); the others are not
            // touched.
            unsafe { _mm512_mask_storeu_ps(p, mask16(n), v) };
        }
        #[inline(always)]
        unsafe fn store_lanes(p: *mut f32, v: __m512, first: usize, n: usize) {
            // Lanes moved down in the register: through memory, the masked load would wait for
            // the whole vector's store to reach the cache (no store forwarding to it).
            // SAFETY: AVX-512F as for `zero`, and the caller guarantees `p` valid for writing
            // the `n` lanes the mask lets through (the trait's contract).
            unsafe {
                let from = _mm512_add_epi32(
                    _mm512_set1_epi32(first as i32),
                    _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                );
                _mm512_mask_storeu_ps(p, mask16(n), _mm512_permutexvar_ps(from, v));
            }
        }
        #[inline(always)]
        unsafe fn mul_add(a: __m512, b: __m512, c: __m512) -> __m512 {
            // SAFETY: AVX-512F, as for `zero`.
            unsafe { _mm512_fmadd_ps(a, b, c) }
        }
        #[inline(always)]
        unsafe fn add(a: __m512, b: __m512) -> __m512 {
            // SAFETY: AVX-512F, as for `zero`.
            unsafe { _mm512_add_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn relu(v: __m512) -> __m512 {
            // `max` returns its second operand when either is `NaN`, or both are zeros.
            // SAFETY: AVX-512F, as for `zero`.
            unsafe { _mm512_max_ps(_mm512_setzero_ps(), v) }
        }
        #[inline(always)]
        unsafe fn where_positive(y: __m512, v: __m512) -> __m512 {
            // SAFETY: AVX-512F, as for `zero`.
            unsafe {
                _mm512_maskz_mov_ps(_mm512_cmp_ps_mask::<_CMP_GT_OQ>(y, _mm512_setzero_ps()), v)
            }
        }
        #[inline(always)]
        unsafe fn prefetch(p: *const f32) {
            // SAFETY: SSE is part of x86-64, and a prefetch is a hint, which never faults,
            // whatever the address.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast()) };
        }
        #[inline(always)]
        unsafe fn prefetch_write(p: *const f32) {
            // `prefetchw`, a no-op on the few x86-64 CPUs without it.
            // SAFETY: as for `prefetch`.
            unsafe { _mm_prefetch::<_MM_HINT_ET0>(p.cast()) };
        }
        #[inline(always)]
        unsafe fn sums<const R: usize, const NW: usize>(acc: &[[__m512; NW]; R]) -> __m512 {
            // SAFETY: AVX-512F, as for `zero`; only registers are read and written.
            unsafe {
                let mut v = [_mm512_setzero_ps(); 16];
                for (i, v) in v.iter_mut().enumerate() {
                    *v = acc[i / NW][i % NW];
                }
                // Pairs: per 128-bit group, [a0+a2, b0+b2, a1+a3, b1+b3].
                let mut s = [_mm512_setzero_ps(); 8];
                for (p, s) in s.iter_mut().enumerate() {
                    let (a, b) = (v[2 * p], v[2 * p + 1]);
                    *s = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
                }
                // Quads: per 128-bit group, the partial sums of vectors 4q..4q+4 in order.
                let mut t = [_mm512_setzero_ps(); 4];
                for (q, t) in t.iter_mut().enumerate() {
                    let (a, b) = (_mm512_castps_pd(s[2 * q]), _mm512_castps_pd(s[2 * q + 1]));
                    *t = _mm512_add_ps(
                        _mm512_castpd_ps(_mm512_unpacklo_pd(a, b)),
                        _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)),
                    );
                }
                // Sum the four groups of each quad, leaving quad q in group q.
                let mut w = [_mm512_setzero_ps(); 2];
                for (h, w) in w.iter_mut().enumerate() {
                    let (a, b) = (t[2 * h], t[2 * h + 1]);
                    *w = _mm512_add_ps(
                        _mm512_shuffle_f32x4::<0x88>(a, b),
                        _mm512_shuffle_f32x4::<0xDD>(a, b),
                    );
                }
                _mm512_add_ps(
                    _mm512_shuffle_f32x4::<0x88>(w[0], w[1]),
                    _mm512_shuffle_f32x4::<0xDD>(w[0], w[1]),
                )
            }
        }
        #[inline(always)]
        unsafe fn transpose(
            src: *const f32,
            ld: usize,
            rows: usize,
            dst: *mut f32,
            ldd: usize,
            width: usize,
        ) {
            // SAFETY: AVX-512F as for `zero`. The caller guarantees `src` valid for `rows` rows
            // of 16 values, `ld` apart, and `dst` for `width` values of each of the 16 columns,
            // `ldd` apart (the trait's contract): rows `i ≥ rows` are masked off entirely (see
            // below), and each column is stored through a mask of `width` lanes.
            unsafe {
                // Rows past `rows` are masked loads of nothing: zero, and no memory touched (the
                // address is only formed, with wrapping arithmetic, never dereferenced).
                let mut r = [_mm512_setzero_ps(); 16];
                for (i, r) in r.iter_mut().enumerate() {
                    let mask = if i < rows { 0xFFFF } else { 0 };
                    *r = _mm512_maskz_loadu_ps(mask, src.wrapping_add(i * ld));
                }
                let mut a = [_mm512_setzero_ps(); 16];
                for p in 0..8 {
                    a[2 * p] = _mm512_unpacklo_ps(r[2 * p], r[2 * p + 1]);
                    a[2 * p + 1] = _mm512_unpackhi_ps(r[2 * p], r[2 * p + 1]);
                }
                // b[4i + j], per 128-bit group g: rows 4i..4i+4 of column 4g + j.
                let mut b = [_mm512_setzero_ps(); 16];
                for i in 0..4 {
                    for h in 0..2 {
                        let (x, y) = (
                            _mm512_castps_pd(a[4 * i + h]),
                            _mm512_castps_pd(a[4 * i + h + 2]),
                        );
                        b[4 * i + 2 * h] = _mm512_castpd_ps(_mm512_unpacklo_pd(x, y));
                        b[4 * i + 2 * h + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(x, y));
                    }
                }
                // Transpose the 4 × 4 matrix of 128-bit blocks b[j], b[4+j], b[8+j], b[12+j].
                for j in 0..4 {
                    let c0 = _mm512_shuffle_f32x4::<0x44>(b[j], b[4 + j]);
                    let c1 = _mm512_shuffle_f32x4::<0xEE>(b[j], b[4 + j]);
                    let c2 = _mm512_shuffle_f32x4::<0x44>(b[8 + j], b[12 + j]);
                    let c3 = _mm512_shuffle_f32x4::<0xEE>(b[8 + j], b[12 + j]);
                    let mask = mask16(width);
                    _mm512_mask_storeu_ps(
                        dst.add(j * ldd),
                        mask,
                        _mm512_shuffle_f32x4::<0x88>(c0, c2),
                    );
                    _mm512_mask_storeu_ps(
                        dst.add((4 + j) * ldd),
                        mask,
                        _mm512_shuffle_f32x4::<0xDD>(c0, c2),
                    );
                    _mm512_mask_storeu_ps(
                        dst.add((8 + j) * ldd),
                        mask,
                        _mm512_shuffle_f32x4::<0x88>(c1, c3),
                    );
                    _mm512_mask_storeu_ps(
                        dst.add((12 + j) * ldd),
                        mask,
                        _mm512_shuffle_f32x4::<0xDD>(c1, c3),
                    );
                }
            }
        }
    }
}
