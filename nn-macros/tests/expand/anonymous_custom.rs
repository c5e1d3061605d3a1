Linear(4, 8) -> ELU(1.0) -> Swish -> Linear(8, 1)
