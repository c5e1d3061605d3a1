/// Convolutions with batch normalisation, a max pool and a global average.
struct Block {
    Input(3, 32, 32)
        -> Conv2d(3, 32, 3, padding = 1) -> BatchNorm2d(32) -> ReLU
        -> Conv2d(32, 64, 3, padding = 1) -> BatchNorm2d(64) -> ReLU -> MaxPool2d(2)
        -> Conv2d(64, 64, 3, padding = 1) -> BatchNorm2d(64) -> ReLU
        -> AdaptiveAvgPool2d(1) -> Flatten -> Linear(64, 10)
}
