//! A warm training step and a warm `forward_into` allocate nothing: a counting global allocator
//! sees every allocation of this test binary, and counts those of the thread that asks.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use nn::prelude::*;

struct Counting;

thread_local! {
    /// This thread's allocations. Per thread, because the test harness's own threads allocate
    /// at times of their own (a busy machine delays them into the measured span). The kernels'
    /// helper thread is not involved: it serves only products far larger than these.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

/// Counts one allocation of this thread (none while the thread is being torn down).
fn count() {
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// A global allocator is an `unsafe impl` of unsafe methods: the tests' only unsafe code.
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

network! {
    struct SimpleNN { fc1: Linear(64, 128) -> ReLU -> fc2: Linear(128, 2) -> Sigmoid }
}

network! {
    struct Classifier { Linear(64, 32) -> Tanh -> Dropout(0.1) -> Linear(32, 32) -> GELU -> Linear(32, 10) }
}

network! {
    struct ConvBase {
        Input(1, 40)
            -> conv1: Conv1d(1, 25, 5, stride = 2, padding = 1) -> ReLU
            -> conv2: Conv1d(25, 25, 3, stride = 2, padding = 1) -> ReLU
            -> conv3: Conv1d(25, 25, 3, stride = 2, padding = 1) -> ReLU
            -> Flatten -> linear: Linear(125, 10)
    }
}

network! {
    struct Everything {
        Input(2, 8, 8)
            -> Conv2d(2, 4, 3, padding = 1) -> BatchNorm2d(4) -> ReLU -> MaxPool2d(2)
            -> Residual(Conv2d(4, 4, 3, padding = 1) -> Tanh)
            -> AvgPool2d(kernel_size = 3, stride = 1, padding = 1) -> AdaptiveAvgPool2d(1) -> Flatten
            -> Linear(4, 16) -> LayerNorm(16) -> Dropout(0.1)
            -> Residual(Linear(16, 16) -> ReLU) -> BatchNorm1d(16) -> Linear(16, 3)
    }
}

#[test]
fn the_counter_sees_this_threads_allocations_only() {
    assert_eq!(allocations(|| drop(std::hint::black_box(vec![1u8]))), 1);
    let other_thread = || std::thread::spawn(|| drop(vec![1u8; 64])).join().unwrap();
    // Spawning allocates on this thread (more the first time); the vector, on the other, is
    // not counted.
    other_thread();
    let spawning = allocations(|| std::thread::spawn(|| {}).join().unwrap());
    assert_eq!(allocations(other_thread), spawning);
}

#[test]
fn warm_steps_and_inference_allocate_nothing() {
    let mut model = SimpleNN::seeded(0);
    let x = Batch::<64>::random(32, 1);
    let y = Batch::<2>::random(32, 2);
    let loss = BCELoss::new();
    let mut adam = Adam::new(0.01);
    for _ in 0..2 {
        model.train_step(&x, &y, &loss, &mut adam).unwrap();
    }
    let count = allocations(|| {
        for _ in 0..10 {
            model.train_step(&x, &y, &loss, &mut adam).unwrap();
        }
    });
    assert_eq!(count, 0, "SimpleNN train_step with Adam");

    let mut out = Batch::zeros(0);
    model.forward_into(&x, &mut out);
    assert_eq!(
        allocations(|| model.forward_into(&x, &mut out)),
        0,
        "forward_into"
    );

    let mut classifier = Classifier::seeded(0);
    let labels = Labels::random(32, 10, 3);
    let cross_entropy = CrossEntropyLoss::new();
    let mut sgd = SGD::new(0.1).momentum(0.9);
    let small = Batch::<64>::random(8, 4);
    let small_labels = Labels::random(8, 10, 5);
    for _ in 0..2 {
        classifier
            .train_step(&x, &labels, &cross_entropy, &mut sgd)
            .unwrap();
    }
    let count = allocations(|| {
        for _ in 0..5 {
            classifier
                .train_step(&x, &labels, &cross_entropy, &mut sgd)
                .unwrap();
            // A smaller batch reuses the larger one's memory.
            classifier
                .train_step(&small, &small_labels, &cross_entropy, &mut sgd)
                .unwrap();
        }
    });
    assert_eq!(count, 0, "Classifier train_step with dropout and SGD");
}

#[test]
fn warm_steps_of_convolutional_and_residual_networks_allocate_nothing() {
    let mut conv = ConvBase::seeded(0);
    let x = Batch::<40>::random(100, 1);
    let y = Labels::random(100, 10, 2);
    let (loss, mut adam) = (CrossEntropyLoss::new(), Adam::new(1e-2));
    for _ in 0..2 {
        conv.train_step(&x, &y, &loss, &mut adam).unwrap();
    }
    let count = allocations(|| {
        for _ in 0..5 {
            conv.train_step(&x, &y, &loss, &mut adam).unwrap();
        }
    });
    assert_eq!(count, 0, "ConvBase train_step");
    let mut out = Batch::zeros(0);
    conv.forward_into(&x, &mut out);
    assert_eq!(
        allocations(|| conv.forward_into(&x, &mut out)),
        0,
        "forward_into"
    );

    let mut model = Everything::seeded(3);
    let x = Batch::<128>::random(16, 4);
    let y = Labels::random(16, 3, 5);
    let small = Batch::<128>::random(4, 6);
    let small_labels = Labels::random(4, 3, 7);
    let mut adam = Adam::new(1e-3);
    for _ in 0..2 {
        model.train_step(&x, &y, &loss, &mut adam).unwrap();
    }
    let count = allocations(|| {
        for _ in 0..5 {
            model.train_step(&x, &y, &loss, &mut adam).unwrap();
            model
                .train_step(&small, &small_labels, &loss, &mut adam)
                .unwrap();
        }
    });
    assert_eq!(count, 0, "train_step with every kind of layer");
}

#[test]
fn warm_conv1d_passes_allocate_nothing() {
    use nn::{Conv1d, Conv1dSettings};
    use rand::{Rng, SeedableRng};

    // MNIST-1D's second convolution, on a batch and then on a smaller one that reuses the
    // larger one's workspace.
    let settings = Conv1dSettings::new(25, 25, 3, 19).stride(2).padding(1);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let mut conv = Conv1d::new(settings, &mut rng).unwrap();
    let rows = 100;
    let input: Vec<f32> = (0..rows * conv.input_width())
        .map(|_| rng.gen_range(-1.0..1.0))
        .collect();
    let grad_output: Vec<f32> = (0..rows * conv.output_width())
        .map(|_| rng.gen_range(-1.0..1.0))
        .collect();
    let mut output = vec![0.0; rows * conv.output_width()];
    let mut grad_input = vec![0.0; rows * conv.input_width()];
    let mut workspace = vec![0.0; conv.workspace_len(rows).unwrap()];
    let mut passes = |conv: &mut Conv1d, rows: usize| {
        conv.forward(rows, &input, &mut output, &mut workspace)
            .unwrap();
        conv.backward_params(rows, &input, &grad_output, &mut workspace, false)
            .unwrap();
        conv.backward_params(rows, &input, &grad_output, &mut workspace, true)
            .unwrap();
        conv.backward_input(rows, &grad_output, &mut grad_input, &mut workspace)
            .unwrap();
    };
    for _ in 0..2 {
        passes(&mut conv, rows);
    }
    let count = allocations(|| {
        for _ in 0..5 {
            passes(&mut conv, rows);
            passes(&mut conv, 7);
        }
    });
    assert_eq!(
        count, 0,
        "Conv1d forward, backward_params and backward_input"
    );
}

#[test]
fn warm_conv2d_and_pool_passes_allocate_nothing() {
    use nn::{Conv2d, Conv2dSettings, MaxPool1d, MaxPool2d};
    use rand::{Rng, SeedableRng};

    // LeNet's second convolution and the pooling after it, on a batch and then on a smaller
    // one that reuses the larger one's buffers.
    let settings = Conv2dSettings::new(6, 16, 5, 14, 14);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let mut conv = Conv2d::new(settings, &mut rng).unwrap();
    let pool = MaxPool2d::new(16, 10, 10, 2, 2, 0).unwrap();
    let pool1d = MaxPool1d::new(16, 100, 3, 2, 1).unwrap();
    let rows = 32;
    let mut random =
        |len: usize| -> Vec<f32> { (0..len).map(|_| rng.gen_range(-1.0..1.0)).collect() };
    let input = random(rows * conv.input_width());
    let grad_output = random(rows * conv.output_width());
    let grad_pooled = random(rows * pool.output_width());
    let grad_pooled1d = random(rows * pool1d.output_width());
    let mut output = vec![0.0; rows * conv.output_width()];
    let mut grad_input = vec![0.0; rows * conv.input_width()];
    let mut pooled = vec![0.0; rows * pool.output_width()];
    let mut pooled1d = vec![0.0; rows * pool1d.output_width()];
    let mut grad_conv_output = vec![0.0; rows * conv.output_width()];
    let mut workspace = vec![0.0; conv.workspace_len(rows).unwrap()];
    let mut passes = |conv: &mut Conv2d, rows: usize| {
        conv.forward(rows, &input, &mut output, &mut workspace)
            .unwrap();
        pool.forward(rows, &output, &mut pooled).unwrap();
        // The same output as 16 channels of 100 samples.
        pool1d.forward(rows, &output, &mut pooled1d).unwrap();
        pool.backward(rows, &output, &grad_pooled, &mut grad_conv_output)
            .unwrap();
        pool1d
            .backward(rows, &output, &grad_pooled1d, &mut grad_conv_output)
            .unwrap();
        conv.backward_params(rows, &input, &grad_output, &mut workspace, false)
            .unwrap();
        conv.backward_params(rows, &input, &grad_output, &mut workspace, true)
            .unwrap();
        conv.backward_input(rows, &grad_output, &mut grad_input, &mut workspace)
            .unwrap();
    };
    for _ in 0..2 {
        passes(&mut conv, rows);
    }
    let count = allocations(|| {
        for _ in 0..3 {
            passes(&mut conv, rows);
            passes(&mut conv, 5);
        }
    });
    assert_eq!(
        count, 0,
        "Conv2d forward, backward_params and backward_input, MaxPool1d and MaxPool2d forward \
         and backward"
    );
}
