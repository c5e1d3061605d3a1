/// The MNIST-1D MLP baseline.
pub struct MlpBase {
    linear1: Linear(40, 100) -> ReLU -> Residual(linear2: Linear(100, 100) -> ReLU) -> linear3: Linear(100, 10)
}
