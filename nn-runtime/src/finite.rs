//! Finding NaNs and infinities in a slice fast enough to check every gradient of every step.

crate::simd::multiversion! {
    /// Whether `values` or `more` hold a NaN or an infinity: one pass over both, for a parameter
    /// and its gradient.
    pub(crate) fn any_non_finite(values: &[f32], more: &[f32]) -> bool => any_non_finite_in;
}

/// Running sums of [`any_non_finite`]: four AVX-512 registers, so that four chains of
/// multiply-adds are in flight at once rather than one waiting on the last (floating-point sums
/// are not reordered for us).
const LANES: usize = 64;

#[inline(always)]
fn any_non_finite_in(values: &[f32], more: &[f32]) -> bool {
    // `x·0 + s` is `s` for a finite `x` and NaN for an infinity or a NaN, so the sums stay zero
    // unless there is one: one fused multiply-add per value, with no early exit, which becomes
    // one vector instruction per register of values.
    let mut sums = [0.0f32; LANES];
    for slice in [values, more] {
        let chunks = slice.chunks_exact(LANES);
        let tail = chunks.remainder();
        for chunk in chunks {
            for (sum, &x) in sums.iter_mut().zip(chunk) {
                *sum = x.mul_add(0.0, *sum);
            }
        }
        for (sum, &x) in sums.iter_mut().zip(tail) {
            *sum = x.mul_add(0.0, *sum);
        }
    }
    sums.iter().any(|&sum| sum != 0.0)
}

/// The position of the first NaN or infinity in `values`, if any.
pub(crate) fn first_non_finite(values: &[f32]) -> Option<usize> {
    if any_non_finite(values, &[]) {
        values.iter().position(|v| !v.is_finite())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_nan_or_infinity_anywhere() {
        for len in [0usize, 1, 15, 16, 255, 256, 257, 1000] {
            let clean: Vec<f32> = (0..len).map(|i| i as f32 * 1e30 - 3e32).collect();
            assert_eq!(first_non_finite(&clean), None, "len {len}");
            for bad in [f32::NAN, -f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                for at in [0, len / 2, len.saturating_sub(1)]
                    .into_iter()
                    .filter(|&i| i < len)
                {
                    let mut values = clean.clone();
                    values[at] = bad;
                    if at + 1 < len {
                        values[len - 1] = f32::NAN;
                    }
                    assert_eq!(
                        first_non_finite(&values),
                        Some(at),
                        "len {len}, {bad} at {at}"
                    );
                }
            }
        }
        let extremes = [
            f32::MAX,
            f32::MIN,
            f32::MIN_POSITIVE,
            f32::from_bits(1),
            -0.0,
        ];
        assert_eq!(first_non_finite(&extremes), None);
    }
}
