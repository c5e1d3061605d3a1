//! One helper thread, so that a large product can use a second core.
//!
//! The helper is started on the first large product (when the machine has a second core and
//! `NN_THREADS` is not `1`) and lives as long as the process. A caller offers it one job at a
//! time, a closure on the caller's stack, and works meanwhile; when done, it withdraws the job
//! if the helper has not started it yet (waking a sleeping thread takes tens of microseconds),
//! else waits for the helper, so the closure and everything it borrows outlive the job. Nothing
//! is allocated per job. Between jobs the helper spins for a while (products of one training
//! step come in quick succession), then sleeps on a condition variable.
//!
//! If the helper is busy (another thread of the program is using it), the caller does the
//! whole product itself.

use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// No job.
const IDLE: u8 = 0;
/// A job waits for the helper.
const POSTED: u8 = 1;
/// The helper is running the job.
const RUNNING: u8 = 2;
/// The helper has finished the job.
const DONE: u8 = 3;

/// How long the helper spins after a job before sleeping.
const SPIN: Duration = Duration::from_micros(200);

/// A job: a borrowed closure whose lifetime has been erased (see [`run_pair`]).
type Job = *const (dyn Fn() + Sync);

struct Helper {
    /// Held by the caller that has posted a job, until the job is done or withdrawn.
    claimed: AtomicBool,
    /// `IDLE`, `POSTED`, `RUNNING` or `DONE`.
    state: AtomicU8,
    /// The current job: written by the caller before `state` becomes `POSTED`; taken by the
    /// helper once it has moved `state` from `POSTED` to `RUNNING`, or cleared by the caller
    /// once it has moved `state` from `POSTED` back to `IDLE` (withdrawn).
    job: UnsafeCell<Option<Job>>,
    /// Whether the last job panicked.
    panicked: AtomicBool,
    /// Whether the helper is (about to be) waiting on `wake`.
    sleeping: AtomicBool,
    lock: Mutex<()>,
    wake: Condvar,
}

// SAFETY: `job` is only accessed by whoever moved `state` out of `POSTED` (the helper taking the
// job, or the caller withdrawing it; a compare-exchange lets only one of them do so), or by the
// caller holding `claimed` before it sets `POSTED` (release/acquire through `state`); everything
// else is atomics and std sync types.
unsafe impl Sync for Helper {}

impl Helper {
    fn run(&self) {
        loop {
            self.wait_for_job();
            // The caller may have withdrawn the job meanwhile (it did all the work itself).
            if self
                .state
                .compare_exchange(POSTED, RUNNING, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                continue;
            }
            // SAFETY: `state` went from `POSTED` to `RUNNING` here (acquiring the caller's
            // write of the job), and the caller does not touch the job until `state` is `DONE`.
            let job = unsafe { (*self.job.get()).take() };
            if let Some(job) = job {
                // SAFETY: the caller keeps the closure alive until `state` is `DONE` (it waits
                // for it in `run_pair`, even when unwinding).
                let job = unsafe { &*job };
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
                    self.panicked.store(true, Ordering::Relaxed);
                }
            }
            self.state.store(DONE, Ordering::Release);
        }
    }

    fn wait_for_job(&self) {
        let start = Instant::now();
        let mut spins = 0u32;
        while self.state.load(Ordering::Acquire) != POSTED {
            std::hint::spin_loop();
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(64) && start.elapsed() > SPIN {
                let mut guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
                self.sleeping.store(true, Ordering::SeqCst);
                while self.state.load(Ordering::SeqCst) != POSTED {
                    guard = self
                        .wake
                        .wait(guard)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                self.sleeping.store(false, Ordering::SeqCst);
            }
        }
    }
}

/// Threads the kernels may use: `NN_THREADS` if set to a positive number, else the available
/// parallelism, at most two. Any other value is ignored, with one line on stderr that says so.
fn threads() -> usize {
    let wanted = std::env::var("NN_THREADS")
        .ok()
        .and_then(|value| match parse_threads(&value) {
            Some(n) => Some(n),
            None => {
                eprintln!(
                    "nn: ignoring NN_THREADS={value:?}: expected a positive number of threads"
                );
                None
            }
        });
    wanted
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, 2)
}

/// `NN_THREADS`'s value as a number of threads, if it is a positive integer.
fn parse_threads(value: &str) -> Option<usize> {
    value.trim().parse::<usize>().ok().filter(|&n| n > 0)
}

/// The helper, started on first use; `None` on a single core or if it could not be started.
fn helper() -> Option<&'static Helper> {
    static HELPER: OnceLock<Option<&'static Helper>> = OnceLock::new();
    *HELPER.get_or_init(|| {
        if threads() < 2 {
            return None;
        }
        let helper: &'static Helper = Box::leak(Box::new(Helper {
            claimed: AtomicBool::new(false),
            state: AtomicU8::new(IDLE),
            job: UnsafeCell::new(None),
            panicked: AtomicBool::new(false),
            sleeping: AtomicBool::new(false),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("nn-kernel-helper".into())
            .spawn(move || helper.run())
            .ok()?;
        Some(helper)
    })
}

#[cfg(test)]
thread_local! {
    /// Tests set this to keep products on their own thread.
    pub(crate) static ONE_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `ours` on this thread and offers `theirs` to the helper thread, and returns `true` once
/// both are done, `theirs` possibly not at all: if the helper has not started it by the time
/// `ours` returns, it is withdrawn (so `ours` must be able to do all the work). Returns `false`
/// without running either if there is no free helper.
///
/// # Panics
/// If `theirs` panicked on the helper thread (after both are done).
pub(super) fn run_pair<F: Fn() + Sync>(theirs: &F, ours: impl FnOnce()) -> bool {
    #[cfg(test)]
    if ONE_THREAD.with(std::cell::Cell::get) {
        return false;
    }
    let Some(helper) = helper() else {
        return false;
    };
    if helper
        .claimed
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return false;
    }

    /// Withdraws the job if the helper has not started it, else waits for the helper to
    /// finish it, then releases the helper: on every exit from `run_pair`, unwinding included,
    /// so that the job never outlives what it borrows.
    struct Wait<'a>(&'a Helper);
    impl Drop for Wait<'_> {
        fn drop(&mut self) {
            let helper = self.0;
            let withdrawn = helper
                .state
                .compare_exchange(POSTED, IDLE, Ordering::Acquire, Ordering::Relaxed)
                .is_ok();
            if withdrawn {
                // SAFETY: the helper never saw the job (`state` left `POSTED` here, not in
                // `Helper::run`), and we hold `claimed`.
                unsafe { *helper.job.get() = None };
            } else {
                let mut spins = 0u32;
                while helper.state.load(Ordering::Acquire) != DONE {
                    spins = spins.wrapping_add(1);
                    if spins < 1 << 16 {
                        std::hint::spin_loop();
                    } else {
                        std::thread::yield_now();
                    }
                }
                helper.state.store(IDLE, Ordering::Relaxed);
            }
            helper.claimed.store(false, Ordering::Release);
        }
    }

    let job: *const (dyn Fn() + Sync + '_) = theirs;
    // SAFETY: only the lifetime is changed. The helper runs the job before `state` becomes
    // `DONE`, and `Wait` below blocks until then, so `theirs` outlives every use.
    let job: Job = unsafe { std::mem::transmute(job) };
    // SAFETY: we hold `claimed` and `state` is `IDLE`: the helper does not read `job` now.
    unsafe { *helper.job.get() = Some(job) };
    helper.state.store(POSTED, Ordering::SeqCst);
    if helper.sleeping.load(Ordering::SeqCst) {
        let _guard = helper.lock.lock().unwrap_or_else(PoisonError::into_inner);
        helper.wake.notify_one();
    }
    let wait = Wait(helper);
    ours();
    drop(wait);
    if helper.panicked.swap(false, Ordering::Relaxed) {
        panic!("a kernel's helper thread panicked");
    }
    true
}

/// A slice that tasks running on two threads write in disjoint parts, each part handed to one
/// task: what [`for_each_task`]'s tasks write through.
struct Parts<'a, T> {
    ptr: *mut T,
    len: usize,
    borrow: PhantomData<&'a mut [T]>,
}

// SAFETY: `Parts` is a borrowed slice; its users hand each part to one task only, for the time
// the slice is borrowed, so sharing it between threads shares no value.
unsafe impl<T: Send> Sync for Parts<'_, T> {}

impl<'a, T> Parts<'a, T> {
    /// `slice`, to be written in disjoint parts.
    fn new(slice: &'a mut [T]) -> Self {
        Parts {
            ptr: slice.as_mut_ptr(),
            len: slice.len(),
            borrow: PhantomData,
        }
    }

    /// Values `start..start + len`, clipped to the slice.
    ///
    /// # Safety
    /// No other reference to these values is alive while the result is.
    #[allow(clippy::mut_from_ref)]
    unsafe fn part(&self, start: usize, len: usize) -> &mut [T] {
        let start = start.min(self.len);
        let len = len.min(self.len - start);
        // SAFETY: `start..start + len` is within the slice (clipped above), and no other
        // reference to it is alive (this function's contract).
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), len) }
    }
}

/// Runs `work(task)` once for every task in `0..tasks`, on this thread and, with `parallel`, on
/// the helper thread too, each taking the next task not yet taken.
///
/// Which thread runs a task changes nothing but the time, as long as each task reads what it
/// is given and writes only what belongs to it (its own [`Parts`]).
fn for_each_task(tasks: usize, parallel: bool, work: &(dyn Fn(usize, usize) + Sync)) {
    let next = AtomicUsize::new(0);
    let run = |worker: usize| loop {
        let task = next.fetch_add(1, Ordering::Relaxed);
        if task >= tasks {
            break;
        }
        work(worker, task);
    };
    if parallel && tasks >= 2 && run_pair(&|| run(1), || run(0)) {
        return;
    }
    // No helper: this thread does every task.
    run(0);
}

/// One channel's run of each row of `[rows, C, P]` values, for writing: what
/// [`for_each_channel`] hands the task of that channel.
pub(crate) struct ChannelRuns<'t> {
    values: Option<&'t Parts<'t, f32>>,
    /// Where the next run starts.
    start: usize,
    /// Runs left.
    rows: usize,
    width: usize,
    positions: usize,
}

impl<'t> Iterator for ChannelRuns<'t> {
    type Item = &'t mut [f32];

    fn next(&mut self) -> Option<&'t mut [f32]> {
        let values = self.values?;
        self.rows = self.rows.checked_sub(1)?;
        let start = self.start;
        self.start += self.width;
        // SAFETY: `for_each_channel` gives each channel to one task, and the runs of one
        // channel, one per row, are disjoint.
        Some(unsafe { values.part(start, self.positions) })
    }
}

/// Runs `work(c, runs)` once for every channel `c`, one per value of `results`, which takes
/// its result, as [`for_each_task`] runs tasks. With `values` (`(values, P)`, rows of `C·P`
/// values, channel-major), `runs` yields channel `c`'s run of `P` values in each row, for
/// writing; without, nothing.
///
/// Each channel's task sees only its own runs and result, so results are the same on one
/// thread or two.
pub(crate) fn for_each_channel<R: Send>(
    parallel: bool,
    results: &mut [R],
    values: Option<(&mut [f32], usize)>,
    work: &(dyn Fn(usize, ChannelRuns<'_>) -> R + Sync),
) {
    let channels = results.len();
    let (values, positions) = values.unzip();
    let positions = positions.unwrap_or(0);
    let width = channels * positions;
    let rows = match &values {
        Some(values) if width > 0 => values.len() / width,
        _ => 0,
    };
    let values = values.map(Parts::new);
    let results = Parts::new(results);
    for_each_task(channels, parallel, &|_, c| {
        let runs = ChannelRuns {
            values: values.as_ref(),
            start: c * positions,
            rows,
            width,
            positions,
        };
        let result = work(c, runs);
        // SAFETY: the task counter gives out each channel once.
        if let Some(slot) = unsafe { results.part(c, 1) }.first_mut() {
            *slot = result;
        }
    });
}

/// What [`share`] runs per task: `(task, its output part, the thread's scratch)`.
pub(crate) type Task<'a> = dyn Fn(usize, &mut [f32], &mut [f32]) + Sync + 'a;

/// Runs `work(task, output, scratch)` once for every task in `0..tasks`, as [`for_each_task`].
/// Task `t` writes `output` part `t`, values `t·part..(t + 1)·part` of `outputs` (the last part
/// shorter if `outputs` is); `scratch` is the running thread's own part of `scratch`, the
/// first `per_thread` values on this thread, the next on the helper.
pub(crate) fn share(
    tasks: usize,
    (outputs, part): (&mut [f32], usize),
    (scratch, per_thread): (&mut [f32], usize),
    parallel: bool,
    work: &Task<'_>,
) {
    let outputs = Parts::new(outputs);
    let scratch = Parts::new(scratch);
    for_each_task(tasks, parallel, &|worker, task| {
        // SAFETY: worker 0 runs on this thread and worker 1 on the helper, and the task
        // counter gives out each task once: each part is used by one thread at a time.
        let (output, scratch) = unsafe {
            (
                outputs.part(task * part, part),
                scratch.part(worker * per_thread, per_thread),
            )
        };
        work(task, output, scratch);
    });
}

#[cfg(test)]
mod tests {
    use super::parse_threads;

    #[test]
    fn nn_threads_takes_positive_numbers_only() {
        assert_eq!(parse_threads("1"), Some(1));
        assert_eq!(parse_threads(" 2 "), Some(2));
        for ignored in ["abc", "0", "-1", "", "1.5"] {
            assert_eq!(parse_threads(ignored), None, "{ignored:?}");
        }
    }

    use super::*;

    /// Both threads take tasks from one counter, as a shared product does: every task is done
    /// exactly once, by whichever thread got it, and `run_pair` returns after both are done.
    #[test]
    fn a_pair_does_every_task_once() {
        const TASKS: usize = 40;
        for _ in 0..8 {
            let next = AtomicUsize::new(0);
            let done: Vec<AtomicUsize> = (0..TASKS).map(|_| AtomicUsize::new(0)).collect();
            let work = || loop {
                let task = next.fetch_add(1, Ordering::Relaxed);
                if task >= TASKS {
                    break;
                }
                done[task].fetch_add(1, Ordering::Relaxed);
            };
            if !run_pair(&work, work) {
                // No helper here (one core, or `NN_THREADS=1`): nothing ran.
                assert_eq!(next.load(Ordering::Relaxed), 0);
                continue;
            }
            assert!(done.iter().all(|d| d.load(Ordering::Relaxed) == 1));
        }
    }

    /// Each channel's task gets its own runs, one per row, and its result lands in its own
    /// place, on one thread or two.
    #[test]
    fn each_channel_writes_its_own_runs_and_result() {
        let (rows, channels, positions) = (3, 5, 4);
        for parallel in [false, true] {
            let mut values = vec![0.0f32; rows * channels * positions];
            let mut results = vec![usize::MAX; channels];
            for_each_channel(
                parallel,
                &mut results,
                Some((&mut values, positions)),
                &|c, runs| {
                    let mut count = 0;
                    for (row, run) in runs.enumerate() {
                        assert_eq!(run.len(), positions);
                        run.fill((row * channels + c) as f32);
                        count += 1;
                    }
                    count * 10 + c
                },
            );
            let expected: Vec<f32> = (0..rows * channels)
                .flat_map(|run| std::iter::repeat_n(run as f32, positions))
                .collect();
            assert_eq!(values, expected);
            assert_eq!(results, (0..channels).map(|c| 30 + c).collect::<Vec<_>>());
            // Without values, a task sees no runs.
            for_each_channel(parallel, &mut results, None, &|c, runs| runs.count() + c);
            assert_eq!(results, (0..channels).collect::<Vec<_>>());
        }
    }

    /// A job that panics on the helper thread is reported on the caller's, after both are
    /// done, and the helper takes jobs again afterwards.
    #[test]
    fn a_panic_on_the_helper_reaches_the_caller() {
        let helper_ran = AtomicBool::new(false);
        let theirs = || {
            helper_ran.store(true, Ordering::Relaxed);
            panic!("a job that fails");
        };
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // Waits until the helper has taken the job, so that it runs there.
            run_pair(&theirs, || {
                while !helper_ran.load(Ordering::Relaxed) {
                    std::thread::yield_now();
                }
            })
        }));
        match outcome {
            Ok(ran) => assert!(!ran, "the helper's panic was lost"),
            Err(payload) => {
                let message = payload.downcast_ref::<&str>().copied().unwrap_or_default();
                assert_eq!(message, "a kernel's helper thread panicked");
                let count = AtomicUsize::new(0);
                let add = || {
                    count.fetch_add(1, Ordering::Relaxed);
                };
                // Free again: a pair runs (unless another test holds the helper just now).
                let ran = run_pair(&add, add);
                assert_eq!(count.load(Ordering::Relaxed) > 0, ran);
            }
        }
    }
}
