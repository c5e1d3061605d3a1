/// The MNIST-1D convolutional baseline, its channels and first kernel constants.
pub struct ConvBase {
    Input(1, 40)
        -> conv1: Conv1d(1, CHANNELS, KERNEL, stride = 2, padding = 1) -> ReLU
        -> conv2: Conv1d(CHANNELS, CHANNELS, 3, stride = 2, padding = 1) -> ReLU
        -> MaxPool1d(POOL)
        -> Flatten -> linear: Linear(HIDDEN, 10)
}
