struct Deeper {
    Linear(20, HIDDEN) -> Tanh -> Linear(HIDDEN, HIDDEN) -> LeakyReLU(0.1) -> Dropout(0.2)
        -> Linear(HIDDEN, 3) -> Softmax
}
