//! Export to ONNX: the evaluation graph of a network, with its weights, in the file format
//! that ONNX Runtime, TensorRT, browsers and phones read.
//!
//! A network declared with `network!` has `save_onnx(path)` and `onnx_bytes()`. The file looks
//! like `torch.onnx.export` of the same model in PyTorch 2.15 (its default, opset 20, IR
//! version 10): one node (or a short standard decomposition) per layer, in order, named after
//! the layer (`fc1`, or the index `nn.Sequential` would give it); the weights as initializers
//! with PyTorch's names and layouts (`fc1.weight`, `[out, in]`); one input `input` and one
//! output `output`, both `[batch, features]` with a symbolic batch dimension. Dropout does
//! not appear: the graph is the one `forward` computes.
//!
//! Each activation writes its own nodes through [`Activation::onnx`](crate::Activation::onnx);
//! a custom activation that does not implement it makes the export fail with
//! [`Error::NoOnnxForm`](crate::Error::NoOnnxForm).

mod proto;

use std::path::Path;

use prost::Message;

use crate::activation::RowActivation;
use crate::error::Result;
use crate::io::write_atomically;
use crate::layer::{BatchNorm, Conv1d, Conv2d, LayerNorm, Linear};
use proto::tensor_shape_proto::{dimension::Value as DimensionValue, Dimension};
use proto::type_proto::{self, Value as TypeValue};
use proto::{
    AttributeProto, AttributeType, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
    TensorProto, TensorShapeProto, TypeProto, ValueInfoProto, FLOAT, INT64,
};

/// The ONNX operator set the files use: PyTorch 2.15's default.
pub const OPSET: i64 = 20;

/// The ONNX IR version that goes with [`OPSET`].
const IR_VERSION: i64 = 10;

/// The graph being written: what an activation's [`onnx`](crate::Activation::onnx) method adds
/// its nodes to.
///
/// ```
/// use nn_runtime::onnx::{Attribute, OnnxGraph};
///
/// // Swish with β = 2, `x·σ(2x)`, as three standard operators.
/// fn swish(graph: &mut OnnxGraph, x: &str) -> String {
///     let two = graph.constant(2.0);
///     let scaled = graph.node("Mul", &[x, &two], &[]);
///     let gate = graph.node("Sigmoid", &[&scaled], &[]);
///     graph.node("Mul", &[x, &gate], &[])
/// }
/// # let _ = (swish, Attribute::float("alpha", 1.0));
/// ```
#[derive(Debug)]
pub struct OnnxGraph {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    /// The layer whose nodes are being written: `fc1`, or `1` for an unlabelled second layer.
    scope: String,
    /// The value holding the output of the layers written so far.
    last: String,
}

/// An attribute of an ONNX node: a name and one value.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute(AttributeProto);

impl Attribute {
    /// A `float` attribute, such as `LeakyRelu`'s `alpha`.
    pub fn float(name: &str, value: f32) -> Self {
        Attribute(AttributeProto {
            name: Some(name.into()),
            r#type: Some(AttributeType::Float as i32),
            f: Some(value),
            ..AttributeProto::default()
        })
    }

    /// An `int` attribute, such as `Softmax`'s `axis`.
    pub fn int(name: &str, value: i64) -> Self {
        Attribute(AttributeProto {
            name: Some(name.into()),
            r#type: Some(AttributeType::Int as i32),
            i: Some(value),
            ..AttributeProto::default()
        })
    }

    /// An `ints` attribute, such as `Conv`'s `kernel_shape`.
    pub fn ints(name: &str, values: &[i64]) -> Self {
        Attribute(AttributeProto {
            name: Some(name.into()),
            r#type: Some(AttributeType::Ints as i32),
            ints: values.to_vec(),
            ..AttributeProto::default()
        })
    }

    /// A `string` attribute, such as `Gelu`'s `approximate`.
    pub fn string(name: &str, value: &str) -> Self {
        Attribute(AttributeProto {
            name: Some(name.into()),
            r#type: Some(AttributeType::String as i32),
            s: Some(value.as_bytes().to_vec()),
            ..AttributeProto::default()
        })
    }
}

impl OnnxGraph {
    fn new() -> Self {
        OnnxGraph {
            nodes: Vec::new(),
            initializers: Vec::new(),
            scope: String::new(),
            last: INPUT.into(),
        }
    }

    /// Adds a node of operator `op_type` (of the default domain, at [`OPSET`]) reading `inputs`,
    /// and returns the name of its one output.
    pub fn node(&mut self, op_type: &str, inputs: &[&str], attributes: &[Attribute]) -> String {
        let name = self.fresh_name(op_type);
        let output = format!("{name}_output_0");
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|&input| input.to_owned()).collect(),
            output: vec![output.clone()],
            name: Some(name),
            op_type: Some(op_type.into()),
            attribute: attributes
                .iter()
                .map(|Attribute(attribute)| attribute.clone())
                .collect(),
            ..NodeProto::default()
        });
        output
    }

    /// Adds a `Constant` node holding the scalar `value`, and returns its output's name.
    pub fn constant(&mut self, value: f32) -> String {
        self.constant_tensor(TensorProto {
            data_type: Some(FLOAT),
            raw_data: Some(value.to_le_bytes().to_vec()),
            ..TensorProto::default()
        })
    }

    /// Adds a `Constant` node holding the 64-bit integers `values` (a shape), and returns its
    /// output's name.
    fn int64s(&mut self, values: &[i64]) -> String {
        self.constant_tensor(TensorProto {
            dims: vec![values.len() as i64],
            data_type: Some(INT64),
            raw_data: Some(values.iter().flat_map(|v| v.to_le_bytes()).collect()),
            ..TensorProto::default()
        })
    }

    /// Adds a `Constant` node holding `tensor`, and returns its output's name.
    fn constant_tensor(&mut self, tensor: TensorProto) -> String {
        let attribute = Attribute(AttributeProto {
            name: Some("value".into()),
            r#type: Some(AttributeType::Tensor as i32),
            t: Some(tensor),
            ..AttributeProto::default()
        });
        self.node("Constant", &[], &[attribute])
    }

    /// `/scope/OpType`, numbered from the second of its kind in the scope on (`/1/Mul_1`), as
    /// PyTorch names nodes.
    fn fresh_name(&self, op_type: &str) -> String {
        let base = format!("/{}/{op_type}", self.scope);
        let taken = |name: &str| self.nodes.iter().any(|n| n.name.as_deref() == Some(name));
        if !taken(&base) {
            return base;
        }
        (1..)
            .map(|k| format!("{base}_{k}"))
            .find(|name| !taken(name))
            .expect("an unused name")
    }

    /// A `Linear` layer called `name`: `Gemm(x, W, b)` with `W` in PyTorch's `[out, in]`
    /// layout, as `torch.onnx.export` writes it.
    #[doc(hidden)]
    pub fn linear<const IN: usize, const OUT: usize>(
        &mut self,
        name: &str,
        layer: &Linear<IN, OUT>,
    ) {
        self.scope = name.to_owned();
        let weight = format!("{name}.weight");
        let bias = format!("{name}.bias");
        self.initializer(&weight, &[OUT, IN], layer.weight().iter().copied());
        self.initializer(&bias, &[OUT], layer.bias().iter().copied());
        let input = self.last.clone();
        let output = self.node(
            "Gemm",
            &[&input, &weight, &bias],
            &[
                Attribute::float("alpha", 1.0),
                Attribute::float("beta", 1.0),
                Attribute::int("transA", 0),
                Attribute::int("transB", 1),
            ],
        );
        self.last = output;
    }

    /// The input's rows, `[batch, C·L]` or `[batch, C·H·W]`, as the `[batch, C, L]` or
    /// `[batch, C, H, W]` a convolutional network's first layer reads: a `Reshape`, as
    /// PyTorch's `x.view(-1, C, L)`.
    #[doc(hidden)]
    pub fn reshape_input(&mut self, dims: &[usize]) {
        self.scope = "input".to_owned();
        let shape: Vec<i64> = std::iter::once(-1)
            .chain(dims.iter().map(|&d| d as i64))
            .collect();
        let shape = self.int64s(&shape);
        let input = self.last.clone();
        self.last = self.node("Reshape", &[&input, &shape], &[]);
    }

    /// `Flatten` called `name`: `[batch, C, …]` as `[batch, C·…]`.
    #[doc(hidden)]
    pub fn flatten(&mut self, name: &str) {
        self.scope = name.to_owned();
        let input = self.last.clone();
        self.last = self.node("Flatten", &[&input], &[Attribute::int("axis", 1)]);
    }

    /// A `Conv1d` layer called `name`: `Conv(x, W, b)`, `W` in PyTorch's `[out, in/groups, k]`.
    #[doc(hidden)]
    pub fn conv1d(&mut self, name: &str, layer: &Conv1d) {
        let settings = layer.settings();
        let weight = layer.weight();
        let (out, group_inputs, kernel) = weight.dim();
        self.convolution(
            name,
            (&[out, group_inputs, kernel], weight.iter().copied()),
            layer.bias().map(|b| b.to_vec()),
            Convolution {
                kernel: &[settings.kernel_size],
                stride: &[settings.stride],
                padding: &[settings.padding],
                dilation: &[settings.dilation],
                groups: settings.groups,
            },
        );
    }

    /// A `Conv2d` layer called `name`: `Conv(x, W, b)`, `W` in PyTorch's
    /// `[out, in/groups, kh, kw]`.
    #[doc(hidden)]
    pub fn conv2d(&mut self, name: &str, layer: &Conv2d) {
        let settings = layer.settings();
        let weight = layer.weight();
        let (out, group_inputs, kh, kw) = weight.dim();
        let pair = |(a, b): (usize, usize)| [a, b];
        self.convolution(
            name,
            (&[out, group_inputs, kh, kw], weight.iter().copied()),
            layer.bias().map(|b| b.to_vec()),
            Convolution {
                kernel: &pair(settings.kernel_size),
                stride: &pair(settings.stride),
                padding: &pair(settings.padding),
                dilation: &pair(settings.dilation),
                groups: settings.groups,
            },
        );
    }

    /// A convolution called `name`, as `torch.onnx.export` writes one.
    fn convolution(
        &mut self,
        name: &str,
        (weight_shape, weight): (&[usize], impl Iterator<Item = f32>),
        bias: Option<Vec<f32>>,
        sizes: Convolution<'_>,
    ) {
        self.scope = name.to_owned();
        let weight_name = format!("{name}.weight");
        self.initializer(&weight_name, weight_shape, weight);
        let mut inputs = vec![self.last.clone(), weight_name];
        if let Some(bias) = bias {
            let bias_name = format!("{name}.bias");
            self.initializer(&bias_name, &[bias.len()], bias.into_iter());
            inputs.push(bias_name);
        }
        let ints = |values: &[usize]| values.iter().map(|&v| v as i64).collect::<Vec<_>>();
        // ONNX pads each axis at its start, then each at its end.
        let pads: Vec<i64> = ints(sizes.padding).repeat(2);
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        self.last = self.node(
            "Conv",
            &inputs,
            &[
                Attribute::ints("dilations", &ints(sizes.dilation)),
                Attribute::int("group", sizes.groups as i64),
                Attribute::ints("kernel_shape", &ints(sizes.kernel)),
                Attribute::ints("pads", &pads),
                Attribute::ints("strides", &ints(sizes.stride)),
            ],
        );
    }

    /// A max pool called `name`, with the same kernel size, stride and padding on each of
    /// `dims` axes.
    #[doc(hidden)]
    pub fn max_pool(
        &mut self,
        name: &str,
        dims: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) {
        let dilations = Attribute::ints("dilations", &vec![1; dims]);
        self.pool(name, "MaxPool", dilations, (dims, kernel, stride, padding));
    }

    /// An average pool called `name`, with the same kernel size, stride and padding on each of
    /// `dims` axes: `AveragePool` with `count_include_pad=1`, PyTorch's default, and the
    /// attributes `torch.onnx.export` writes (no `dilations`, which average pools lack).
    #[doc(hidden)]
    pub fn average_pool(
        &mut self,
        name: &str,
        dims: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) {
        let count_include_pad = Attribute::int("count_include_pad", 1);
        self.pool(
            name,
            "AveragePool",
            count_include_pad,
            (dims, kernel, stride, padding),
        );
    }

    /// A pool node `op_type` called `name`, with the window attributes both pools write, in
    /// the order `torch.onnx.export` writes them: `ceil_mode`, the pool's own attribute
    /// (`own`), then `kernel_shape`, `pads` and `strides`, the same on each of `dims` axes.
    fn pool(
        &mut self,
        name: &str,
        op_type: &str,
        own: Attribute,
        (dims, kernel, stride, padding): (usize, usize, usize, usize),
    ) {
        self.scope = name.to_owned();
        let input = self.last.clone();
        let each = |value: usize| vec![value as i64; dims];
        self.last = self.node(
            op_type,
            &[&input],
            &[
                Attribute::int("ceil_mode", 0),
                own,
                Attribute::ints("kernel_shape", &each(kernel)),
                Attribute::ints("pads", &each(padding).repeat(2)),
                Attribute::ints("strides", &each(stride)),
            ],
        );
    }

    /// `AdaptiveAvgPool1d(1)` or `AdaptiveAvgPool2d(1)` called `name`: `GlobalAveragePool`, as
    /// `torch.onnx.export` writes it.
    #[doc(hidden)]
    pub fn global_average_pool(&mut self, name: &str) {
        self.scope = name.to_owned();
        let input = self.last.clone();
        self.last = self.node("GlobalAveragePool", &[&input], &[]);
    }

    /// A batch normalisation called `name`, in evaluation mode: `BatchNormalization` with its
    /// running statistics, as `torch.onnx.export` writes it (ONNX's momentum is PyTorch's
    /// `1 − momentum`).
    #[doc(hidden)]
    pub fn batch_norm(&mut self, name: &str, layer: &BatchNorm) {
        self.scope = name.to_owned();
        let channels = layer.channels();
        let tensors = [
            ("weight", layer.weight()),
            ("bias", layer.bias()),
            ("running_mean", layer.running_mean()),
            ("running_var", layer.running_var()),
        ];
        let mut inputs = vec![self.last.clone()];
        for (tensor, values) in tensors {
            let tensor_name = format!("{name}.{tensor}");
            self.initializer(&tensor_name, &[channels], values.iter().copied());
            inputs.push(tensor_name);
        }
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        self.last = self.node(
            "BatchNormalization",
            &inputs,
            &[
                Attribute::float("epsilon", layer.eps()),
                Attribute::float("momentum", 1.0 - layer.momentum()),
            ],
        );
    }

    /// A layer normalisation called `name`: `LayerNormalization` over the last axis, its scale
    /// and bias ones and zeros without an affine transform.
    #[doc(hidden)]
    pub fn layer_norm(&mut self, name: &str, layer: &LayerNorm) {
        self.scope = name.to_owned();
        let width = layer.width();
        let (scale, bias) = match (layer.weight(), layer.bias()) {
            (Some(weight), Some(bias)) => {
                let names = (format!("{name}.weight"), format!("{name}.bias"));
                self.initializer(&names.0, &[width], weight.iter().copied());
                self.initializer(&names.1, &[width], bias.iter().copied());
                names
            }
            _ => {
                let names = (format!("{name}.ones"), format!("{name}.zeros"));
                self.initializer(&names.0, &[width], std::iter::repeat_n(1.0, width));
                self.initializer(&names.1, &[width], std::iter::repeat_n(0.0, width));
                names
            }
        };
        let input = self.last.clone();
        self.last = self.node(
            "LayerNormalization",
            &[&input, &scale, &bias],
            &[
                Attribute::int("axis", -1),
                Attribute::float("epsilon", layer.eps()),
            ],
        );
    }

    /// The value the layers written so far output: what a residual connection skips with.
    #[doc(hidden)]
    pub fn output(&self) -> String {
        self.last.clone()
    }

    /// The sum of a `Residual` called `name`: `skip` (its input) plus its chain's output.
    #[doc(hidden)]
    pub fn residual(&mut self, name: &str, skip: &str) {
        self.scope = name.to_owned();
        let branch = self.last.clone();
        self.last = self.node("Add", &[skip, &branch], &[]);
    }

    /// An activation called `name`, through its [`RowActivation::onnx`].
    ///
    /// # Errors
    /// [`Error::NoOnnxForm`](crate::Error::NoOnnxForm) when the activation has none.
    #[doc(hidden)]
    pub fn activation<A: RowActivation + ?Sized>(
        &mut self,
        name: &str,
        activation: &A,
    ) -> Result<()> {
        self.scope = name.to_owned();
        let input = self.last.clone();
        let output = activation.onnx(self, &input)?;
        self.last = if output == input {
            // Nothing computed (the identity): a node all the same, so that the layer shows.
            self.node("Identity", &[&input], &[])
        } else {
            output
        };
        Ok(())
    }

    fn initializer(&mut self, name: &str, shape: &[usize], values: impl Iterator<Item = f32>) {
        self.initializers.push(TensorProto {
            dims: shape.iter().map(|&d| d as i64).collect(),
            data_type: Some(FLOAT),
            name: Some(name.into()),
            raw_data: Some(values.flat_map(f32::to_le_bytes).collect()),
            ..TensorProto::default()
        });
    }

    /// The model: `input` is `[batch, inputs]`, and the last value, renamed `output`, is
    /// `[batch, outputs]`.
    fn finish(mut self, name: &str, doc: &str, inputs: usize, outputs: usize) -> ModelProto {
        let last = std::mem::take(&mut self.last);
        for node in &mut self.nodes {
            for value in node.input.iter_mut().chain(node.output.iter_mut()) {
                if *value == last {
                    *value = OUTPUT.into();
                }
            }
        }
        ModelProto {
            ir_version: Some(IR_VERSION),
            opset_import: vec![OperatorSetIdProto {
                domain: Some(String::new()),
                version: Some(OPSET),
            }],
            producer_name: Some("nn".into()),
            producer_version: Some(env!("CARGO_PKG_VERSION").into()),
            graph: Some(GraphProto {
                node: self.nodes,
                name: Some(name.into()),
                initializer: self.initializers,
                doc_string: Some(doc.into()),
                input: vec![batch_of(INPUT, inputs)],
                output: vec![batch_of(OUTPUT, outputs)],
                ..GraphProto::default()
            }),
            ..ModelProto::default()
        }
    }
}

/// A convolution's sizes, one per spatial axis.
struct Convolution<'a> {
    kernel: &'a [usize],
    stride: &'a [usize],
    padding: &'a [usize],
    dilation: &'a [usize],
    groups: usize,
}

/// The graph's input.
const INPUT: &str = "input";
/// The graph's output.
const OUTPUT: &str = "output";

/// A float tensor value `[batch, width]`, `batch` symbolic.
fn batch_of(name: &str, width: usize) -> ValueInfoProto {
    let dimension = |value| Dimension { value: Some(value) };
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(TypeValue::TensorType(type_proto::Tensor {
                elem_type: Some(FLOAT),
                shape: Some(TensorShapeProto {
                    dim: vec![
                        dimension(DimensionValue::DimParam("batch".into())),
                        dimension(DimensionValue::DimValue(width as i64)),
                    ],
                }),
            })),
        }),
        ..ValueInfoProto::default()
    }
}

/// A network that can write its evaluation graph: implemented by `network!`.
#[doc(hidden)]
pub trait ExportOnnx {
    /// The struct's name.
    const NAME: &'static str;
    /// The chain as written.
    const SPEC: &'static str;
    /// Input and output widths.
    const WIDTHS: (usize, usize);

    /// Adds every layer, in order.
    ///
    /// # Errors
    /// [`Error::NoOnnxForm`](crate::Error::NoOnnxForm) for an activation without one.
    fn write_layers(&self, graph: &mut OnnxGraph) -> Result<()>;
}

/// The ONNX file of `model`, as bytes.
///
/// # Errors
/// [`Error::NoOnnxForm`](crate::Error::NoOnnxForm) when an activation has no ONNX form.
#[doc(hidden)]
pub fn onnx_bytes<M: ExportOnnx + ?Sized>(model: &M) -> Result<Vec<u8>> {
    let mut graph = OnnxGraph::new();
    model.write_layers(&mut graph)?;
    let (inputs, outputs) = M::WIDTHS;
    Ok(graph
        .finish(M::NAME, M::SPEC, inputs, outputs)
        .encode_to_vec())
}

/// Writes the ONNX file of `model` to `path`, atomically (as
/// [`save_safetensors`](crate::io::save_safetensors)).
///
/// # Errors
/// [`Error::NoOnnxForm`](crate::Error::NoOnnxForm) when an activation has no ONNX form; [`Error::Io`](crate::Error::Io) when the file
/// cannot be written.
#[doc(hidden)]
pub fn save_onnx<M: ExportOnnx + ?Sized>(model: &M, path: &Path) -> Result<()> {
    let bytes = onnx_bytes(model)?;
    write_atomically(path, &bytes).map_err(|e| crate::io::io_error(path, e))
}
