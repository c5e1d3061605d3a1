/// The MNIST-1D convolutional baseline.
pub struct ConvBase {
    Input(1, 40)
        -> conv1: Conv1d(1, 25, 5, stride = 2, padding = 1) -> ReLU
        -> conv2: Conv1d(25, 25, 3, stride = 2, padding = 1) -> ReLU
        -> conv3: Conv1d(25, 25, 3, stride = 2, padding = 1) -> ReLU
        -> Flatten -> linear: Linear(125, 10)
}
