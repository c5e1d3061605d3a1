//! Every layer kind the ONNX checks cover, as it is written in `network!`: one list for
//! `examples/onnx_models` (whose files ONNX Runtime checks) and `nn-runtime/tests/onnx.rs`
//! (which runs them in tract), so that a new layer joins both at once.

/// Calls `$callback! { Name: [layer] … }` with a network name and a layer for each kind.
macro_rules! layer_kinds {
    ($callback:ident) => {
        $callback! {
            OnlyLinear: [Identity]
            WithReLU: [ReLU]
            WithSigmoid: [Sigmoid]
            WithTanh: [Tanh]
            WithLeakyReLU: [LeakyReLU(0.2)]
            WithELU: [ELU(0.5)]
            WithSELU: [SELU]
            WithCELU: [CELU]
            WithCELUAlpha: [CELU(1.5)]
            WithGELU: [GELU]
            WithGELUTanh: [GELU("tanh")]
            WithSiLU: [SiLU]
            WithMish: [Mish]
            WithSoftplus: [Softplus]
            WithSoftplusBeta: [Softplus(2.0, 3.0)]
            WithSoftsign: [Softsign]
            WithHardtanh: [Hardtanh(-0.5, 0.7)]
            WithHardsigmoid: [Hardsigmoid]
            WithHardswish: [Hardswish]
            WithReLU6: [ReLU6]
            WithSoftshrink: [Softshrink(0.3)]
            WithTanhshrink: [Tanhshrink]
            WithSoftmax: [Softmax]
            WithLogSoftmax: [LogSoftmax]
            WithDropout: [Dropout(0.3)]
        }
    };
}
