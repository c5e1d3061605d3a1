//! The one error type of the runtime.

use std::fmt;
use std::sync::Arc;

/// Everything that can go wrong when data, weights or targets do not fit a network.
///
/// Messages are lower-case and name the thing that is wrong, in the style of `rustc`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A flat buffer whose length is not `rows × width`.
    Length {
        /// The number of rows asked for.
        rows: usize,
        /// The static feature width of the batch.
        width: usize,
        /// The length that was given.
        found: usize,
    },
    /// An array whose number of columns is not the batch's static width.
    Width {
        /// The static feature width of the batch.
        expected: usize,
        /// The number of columns that was given.
        found: usize,
    },
    /// A class index that is not below the number of classes.
    LabelOutOfRange {
        /// Position of the label in the list.
        position: usize,
        /// The label itself.
        label: usize,
        /// The number of classes.
        classes: usize,
    },
    /// Labels declared with a class count that differs from the network's output width.
    ClassCount {
        /// The network's output width.
        expected: usize,
        /// The class count of the labels.
        found: usize,
    },
    /// Inputs and targets with different numbers of rows.
    RowMismatch {
        /// Rows of the input batch.
        input: usize,
        /// Rows of the target.
        target: usize,
    },
    /// A batch with no rows where at least one is needed (a mean over nothing).
    EmptyBatch,
    /// A loss that came out NaN or infinite.
    NonFiniteLoss {
        /// The value that was computed.
        value: f32,
    },
    /// A parameter whose gradient came out NaN or infinite, so that no update was made.
    NonFiniteGradient {
        /// The parameter's PyTorch name, e.g. `fc1.weight`.
        parameter: String,
    },
    /// A parameter that holds a NaN or an infinity, so that no update was made.
    NonFiniteParameter {
        /// The parameter's PyTorch name, e.g. `fc1.weight`.
        parameter: String,
    },
    /// A training step of [`Trainer`](crate::Trainer) that failed; the model keeps the weights
    /// of the last step that succeeded.
    Batch {
        /// The epoch, counted from 1.
        epoch: usize,
        /// The mini-batch within the epoch, counted from 1.
        batch: usize,
        /// The rows of the data set that made up the mini-batch, in the order they were used.
        rows: Vec<usize>,
        /// What went wrong.
        cause: Box<Error>,
    },
    /// A tensor in a weights file that holds a NaN or an infinity.
    NonFiniteTensor {
        /// The tensor's name in the file.
        name: String,
        /// The position of the first such value, row-major.
        index: usize,
        /// The value.
        value: f32,
    },
    /// A value outside the range a hyperparameter allows.
    InvalidArgument {
        /// The argument, e.g. `"dropout probability"`.
        name: &'static str,
        /// What was wrong with it.
        message: String,
    },
    /// Reading or writing a file failed.
    Io {
        /// The file.
        path: String,
        /// The operating system's error, a [`std::io::Error`]; also [`source`](std::error::Error::source).
        source: SourceError,
    },
    /// A weights file that is not valid safetensors (truncated, corrupt header, …).
    Format {
        /// What is wrong with it, in words.
        message: String,
        /// The parser's own error; also [`source`](std::error::Error::source).
        source: SourceError,
    },
    /// A weights file without a tensor the network needs.
    MissingTensor {
        /// The tensor's PyTorch name, e.g. `fc1.weight`.
        name: String,
    },
    /// A weights file with a tensor the network does not have.
    UnexpectedTensor {
        /// The tensor's name in the file.
        name: String,
    },
    /// A tensor whose shape differs from the parameter's.
    TensorShape {
        /// The tensor's PyTorch name.
        name: String,
        /// The shape the network needs.
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// A tensor that is not stored as 32-bit floats (or, for a count such as
    /// `num_batches_tracked`, as 64-bit integers: [`is_count`](crate::io::is_count)).
    TensorDtype {
        /// The tensor's PyTorch name.
        name: String,
        /// The dtype in the file.
        found: String,
    },
    /// A CSV file that does not fit what was asked of it: a field that is not a number, a
    /// ragged row, a missing column, a width other than the network's.
    Csv {
        /// The file.
        path: String,
        /// The line, counted from 1.
        line: u64,
        /// Where on the line: `column 3 (`pixel_2`)`, `the row`, `the target`.
        column: String,
        /// What is wrong.
        message: String,
    },
    /// An activation without an ONNX form, in a network being exported.
    NoOnnxForm {
        /// The activation's name, as the summary shows it.
        activation: String,
    },
    /// A validation set that could not be evaluated after an epoch (its loss is not finite).
    Validation {
        /// The epoch, counted from 1.
        epoch: usize,
        /// What went wrong.
        cause: Box<Error>,
    },
    /// A picture that could not be drawn.
    Plot {
        /// What went wrong.
        message: String,
    },
    /// An optimizer state that does not fit the optimizer it is restored into.
    OptimizerState {
        /// What does not fit.
        message: String,
    },
    /// A checkpoint that cannot be written, or read into this run: another network, another
    /// optimizer, a damaged file.
    Checkpoint {
        /// The checkpoint's file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A batch or buffer whose `rows × width` values would not fit in the address space.
    TooLarge {
        /// The number of rows asked for.
        rows: usize,
        /// The number of values per row.
        width: usize,
    },
    /// A workspace shorter than a layer's pass needs for its rows
    /// ([`Conv1d::workspace_len`](crate::Conv1d::workspace_len)).
    Workspace {
        /// The number of rows asked for.
        rows: usize,
        /// The values the pass needs.
        needed: usize,
        /// The length that was given.
        found: usize,
    },
    /// A training pass of a batch normalisation with one value per channel, whose variance
    /// means nothing: a batch of one example that has one position per channel. PyTorch raises
    /// `Expected more than 1 value per channel when training` for it.
    OneValuePerChannel,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Length { rows, width, found } => match rows.checked_mul(*width) {
                Some(values) => write!(
                    f,
                    "expected {rows} rows × {width} features = {values} values, found {found}"
                ),
                None => write!(
                    f,
                    "expected {rows} rows × {width} features, found {found} values"
                ),
            },
            Error::Width { expected, found } => {
                write!(f, "expected {expected} features per row, found {found}")
            }
            Error::LabelOutOfRange {
                position,
                label,
                classes,
            } => write!(
                f,
                "label {label} at position {position} is out of range for {classes} classes"
            ),
            Error::ClassCount { expected, found } => write!(
                f,
                "labels have {found} classes but the network yields {expected} outputs"
            ),
            Error::RowMismatch { input, target } => {
                write!(f, "input has {input} rows but the target has {target}")
            }
            Error::EmptyBatch => write!(f, "the batch has no rows"),
            Error::NonFiniteLoss { value } => write!(f, "the loss is not finite ({value})"),
            Error::NonFiniteGradient { parameter } => {
                write!(
                    f,
                    "the gradient of `{parameter}` is not finite; no parameter was updated"
                )
            }
            Error::NonFiniteParameter { parameter } => {
                write!(
                    f,
                    "`{parameter}` holds a NaN or an infinity; no parameter was updated"
                )
            }
            Error::Batch {
                epoch,
                batch,
                rows,
                cause,
            } => {
                write!(f, "epoch {epoch}, batch {batch} (rows ")?;
                write_rows(f, rows)?;
                write!(f, "): {cause}")
            }
            Error::NonFiniteTensor { name, index, value } => write!(
                f,
                "tensor `{name}` holds {value} at index {index}; weights must be finite"
            ),
            Error::InvalidArgument { name, message } => write!(f, "invalid {name}: {message}"),
            Error::Io { path, source } => write!(f, "cannot access `{path}`: {source}"),
            Error::Format { message, .. } => write!(f, "not a valid safetensors file: {message}"),
            Error::MissingTensor { name } => write!(f, "the file has no tensor `{name}`"),
            Error::UnexpectedTensor { name } => {
                write!(
                    f,
                    "the file has a tensor `{name}` that the network does not have"
                )
            }
            Error::TensorShape {
                name,
                expected,
                found,
            } => write!(
                f,
                "tensor `{name}` has shape {found:?}, the network needs {expected:?}"
            ),
            Error::TensorDtype { name, found } => {
                let expected = crate::io::stored_dtype(name);
                write!(
                    f,
                    "tensor `{name}` is stored as {found}, expected {expected:?}"
                )
            }
            Error::Csv {
                path,
                line,
                column,
                message,
            } => write!(f, "{path}, line {line}, {column}: {message}"),
            Error::NoOnnxForm { activation } => write!(
                f,
                "`{activation}` has no ONNX form; implement `Activation::onnx`"
            ),
            Error::Validation { epoch, cause } => {
                write!(f, "epoch {epoch}, validation: {cause}")
            }
            Error::Plot { message } => write!(f, "cannot draw the picture: {message}"),
            Error::OptimizerState { message } => {
                write!(f, "the optimizer state does not fit: {message}")
            }
            Error::Checkpoint { path, message } => write!(f, "checkpoint `{path}`: {message}"),
            Error::TooLarge { rows, width } => write!(
                f,
                "{rows} rows × {width} features overflow the address space"
            ),
            Error::Workspace {
                rows,
                needed,
                found,
            } => write!(
                f,
                "a workspace of {found} values is too short for {rows} rows, which need {needed}"
            ),
            Error::OneValuePerChannel => write!(
                f,
                "batch normalisation needs more than 1 value per channel when training; the \
                 batch has one example of one position"
            ),
        }
    }
}

impl Error {
    /// Whether a training step failed because a loss, a gradient or a parameter was NaN or
    /// infinite (bad data, or a learning rate too large), rather than because its arguments did
    /// not fit the network.
    pub fn is_non_finite(&self) -> bool {
        matches!(
            self,
            Error::NonFiniteLoss { .. }
                | Error::NonFiniteGradient { .. }
                | Error::NonFiniteParameter { .. }
        )
    }
}

/// `3, 17, 5` for up to eight rows, `3, 17, 5, 9, 1, 0, 12, 4, … (32 rows)` for more.
fn write_rows(f: &mut fmt::Formatter<'_>, rows: &[usize]) -> fmt::Result {
    const SHOWN: usize = 8;
    for (i, row) in rows.iter().take(SHOWN).enumerate() {
        if i > 0 {
            write!(f, ", ")?;
        }
        write!(f, "{row}")?;
    }
    if rows.len() > SHOWN {
        write!(f, ", … ({} rows)", rows.len())?;
    }
    Ok(())
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Batch { cause, .. } | Error::Validation { cause, .. } => Some(cause.as_ref()),
            Error::Io { source, .. } | Error::Format { source, .. } => Some(source.get()),
            _ => None,
        }
    }
}

/// The lower-level error behind an [`Error`] (an operating system's, a file parser's), shared
/// by the error's clones.
///
/// Two are equal when they say the same thing, so that errors can be compared in tests.
#[derive(Clone)]
pub struct SourceError(Arc<dyn std::error::Error + Send + Sync + 'static>);

impl SourceError {
    /// Wraps `error`.
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        SourceError(Arc::new(error))
    }

    /// The error itself.
    pub fn get(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.0
    }

    /// The error as a `T`, if it is one: `source.downcast_ref::<std::io::Error>()`.
    pub fn downcast_ref<T: std::error::Error + 'static>(&self) -> Option<&T> {
        self.0.downcast_ref()
    }
}

impl fmt::Debug for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl PartialEq for SourceError {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.to_string() == other.0.to_string()
    }
}

/// `Result` with the runtime's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
