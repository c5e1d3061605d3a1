//! Warm passes of the normalisation layers allocate nothing: a counting global allocator sees
//! every allocation of this test binary, and counts those of the thread that asks.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use nn_runtime::{BatchNorm, LayerNorm};

struct Counting;

thread_local! {
    /// This thread's allocations: the test harness's own threads allocate at times of their
    /// own.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

/// Counts one allocation of this thread (none while the thread is being torn down).
fn count() {
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// A global allocator is an `unsafe impl` of unsafe methods: this test's only unsafe code.
#[allow(unsafe_code)]
// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f` on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.get();
    f();
    ALLOCATIONS.get() - before
}

#[test]
fn normalisation_passes_allocate_nothing() {
    let rows = 8;
    let mut batch_norm = BatchNorm::new(4, 6, 1e-5, 0.1).unwrap();
    let mut layer_norm = LayerNorm::new(24, 1e-5, true).unwrap();
    let input: Vec<f32> = (0..rows * 24).map(|i| (i % 11) as f32 - 5.0).collect();
    let grad_output: Vec<f32> = (0..rows * 24).map(|i| (i % 7) as f32 - 3.0).collect();
    let mut output = vec![0.0; rows * 24];
    let mut grad_input = vec![0.0; rows * 24];
    let allocated = allocations(|| {
        batch_norm.forward_train(rows, &input, &mut output).unwrap();
        batch_norm
            .backward_params(rows, &input, &grad_output, true)
            .unwrap();
        batch_norm
            .backward_input(rows, &input, &grad_output, &mut grad_input)
            .unwrap();
        batch_norm.forward_eval(rows, &input, &mut output).unwrap();
        layer_norm.forward(rows, &input, &mut output).unwrap();
        layer_norm
            .backward_params(rows, &input, &grad_output, true)
            .unwrap();
        layer_norm
            .backward_input(rows, &input, &grad_output, &mut grad_input)
            .unwrap();
    });
    assert_eq!(allocated, 0);
}
