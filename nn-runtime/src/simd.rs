//! The run-time choice of instruction set for hot loops.
//!
//! The baseline x86-64 target has neither AVX nor FMA, so a loop compiled for it is scalar and
//! its `f32::mul_add` is a library call. `multiversion!` compiles a loop again for AVX2 + FMA and
//! for AVX-512 and picks the best copy this CPU runs, detected once.

use std::sync::atomic::{AtomicU8, Ordering};

/// Instruction sets, from the most capable. Only `Baseline` is ever detected off x86-64.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Level {
    /// AVX-512F, with AVX2 and FMA.
    Avx512,
    /// AVX2 with FMA.
    Avx2,
    /// What the compilation target guarantees.
    Baseline,
}

/// The best level this CPU supports (cached after the first call).
pub(crate) fn level() -> Level {
    static DETECTED: AtomicU8 = AtomicU8::new(0);
    match DETECTED.load(Ordering::Relaxed) {
        1 => return Level::Avx512,
        2 => return Level::Avx2,
        3 => return Level::Baseline,
        _ => {}
    }
    let detected = detect();
    let code = match detected {
        Level::Avx512 => 1,
        Level::Avx2 => 2,
        Level::Baseline => 3,
    };
    DETECTED.store(code, Ordering::Relaxed);
    detected
}

fn detect() -> Level {
    // Miri interprets the portable code only: under it, the CPU has nothing beyond the target.
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        let avx2 = std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma");
        // The AVX-512 copies are compiled with AVX-512VL too (for its 256-bit forms), which a
        // few AVX-512F processors (Xeon Phi) lack.
        if avx2
            && std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
        {
            return Level::Avx512;
        }
        if avx2 {
            return Level::Avx2;
        }
    }
    Level::Baseline
}

/// The levels this CPU can run, fastest first (for tests): the detected one and those below.
#[cfg(test)]
pub(crate) fn available_levels() -> Vec<Level> {
    let all = [Level::Avx512, Level::Avx2, Level::Baseline];
    let best = detect();
    let first = all.iter().position(|&l| l == best).unwrap_or(0);
    all[first..].to_vec()
}

/// Defines `fn $name(args) -> ret` that runs `$body(args)` (an `#[inline(always)]` function)
/// compiled for the best instruction set of this CPU.
///
/// Its dispatch, a call of a copy compiled for features the CPU was found to have, is unsafe
/// code: the function allows it, so that the modules the macro expands in need not.
macro_rules! multiversion {
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? => $body:path;
    ) => {
        $(#[$meta])*
        #[allow(unsafe_code)]
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
            fn avx512($($arg: $ty),*) $(-> $ret)? {
                $body($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            fn avx2($($arg: $ty),*) $(-> $ret)? {
                $body($($arg),*)
            }
            match $crate::simd::level() {
                // SAFETY: `level()` found these features on the running CPU.
                #[cfg(target_arch = "x86_64")]
                $crate::simd::Level::Avx512 => unsafe { avx512($($arg),*) },
                // SAFETY: as above.
                #[cfg(target_arch = "x86_64")]
                $crate::simd::Level::Avx2 => unsafe { avx2($($arg),*) },
                _ => $body($($arg),*),
            }
        }
    };
}
pub(crate) use multiversion;

#[cfg(test)]
mod tests {
    use super::*;

    /// What `/proc/cpuinfo` says the best level is: the kernel's own account of the CPU (it
    /// lists only what the operating system has enabled), independent of `detect`.
    fn level_from_cpuinfo(cpuinfo: &str) -> Level {
        let flags: Vec<&str> = cpuinfo
            .lines()
            .find(|line| line.starts_with("flags"))
            .and_then(|line| line.split(':').nth(1))
            .map(|flags| flags.split_whitespace().collect())
            .unwrap_or_default();
        let has = |flag| flags.contains(&flag);
        match (has("avx2") && has("fma"), has("avx512f") && has("avx512vl")) {
            (true, true) => Level::Avx512,
            (true, false) => Level::Avx2,
            (false, _) => Level::Baseline,
        }
    }

    /// The tests run every kernel at every level in `available_levels`, and the library runs
    /// `level()`: both must start at the fastest level the machine has, or a green run would
    /// not have exercised the code users get.
    #[test]
    fn the_fastest_level_the_machine_has_is_used_and_tested() {
        let expected = if cfg!(all(target_arch = "x86_64", not(miri))) {
            match std::fs::read_to_string("/proc/cpuinfo") {
                Ok(cpuinfo) => level_from_cpuinfo(&cpuinfo),
                Err(error) => {
                    eprintln!("cannot read /proc/cpuinfo ({error}); checked against std only");
                    detect()
                }
            }
        } else {
            Level::Baseline
        };
        eprintln!("instruction set: {expected:?}");
        assert_eq!(level(), expected);
        assert_eq!(available_levels().first(), Some(&expected));
    }

    #[test]
    fn cpuinfo_flags_are_read_whole_words() {
        let line = |flags: &str| format!("processor\t: 0\nflags\t\t: {flags}\nbugs\t\t: none\n");
        assert_eq!(
            level_from_cpuinfo(&line("sse avx2 fma avx512f avx512vl")),
            Level::Avx512
        );
        assert_eq!(
            level_from_cpuinfo(&line("sse avx2 fma avx512f")),
            Level::Avx2
        );
        assert_eq!(
            level_from_cpuinfo(&line("avx2 avx512vl_x fma4")),
            Level::Baseline
        );
        assert_eq!(level_from_cpuinfo(""), Level::Baseline);
    }
}
