/// The model from the PyTorch activation-functions tutorial.
#[derive(Clone)]
pub struct SimpleNN {
    fc1: Linear(64, 128) -> ReLU -> fc2: Linear(128, 2) -> Sigmoid
}
