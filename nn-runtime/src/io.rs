//! Weights in the safetensors format, with PyTorch's names and layouts.
//!
//! A PyTorch state dict saved with `safetensors.torch.save_file(model.state_dict(), path)` loads
//! as is, and what is saved here loads into PyTorch with `load_file` + `load_state_dict`.
//!
//! Every tensor is `F32` in a file but one kind: a batch normalisation's `num_batches_tracked`,
//! which PyTorch keeps as an `int64` scalar. Visitors see it as one `f32` value like any other
//! tensor (exact up to 2²⁴ batches), and it is converted to and from `I64` where files are
//! written and read ([`is_count`]), so that files pass between PyTorch and `nn` both ways.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensorError, SafeTensors};

use crate::error::{Error, Result, SourceError};

/// Receives a tensor's name, shape and values.
pub type TensorVisitor<'a> = dyn FnMut(&str, &[usize], &[f32]) + 'a;

/// Receives a tensor's name, shape and values for writing.
pub type TensorVisitorMut<'a> = dyn FnMut(&str, &[usize], &mut [f32]) + 'a;

/// A model's named tensors, in PyTorch's naming (`fc1.weight`) and layout (`[out, in]`).
pub trait NamedTensors {
    /// Calls `visitor` with each tensor's name, shape and values, in a fixed order.
    fn visit_tensors(&self, visitor: &mut TensorVisitor<'_>);

    /// Calls `visitor` with each tensor's name, shape and values for writing, in the same order.
    fn visit_tensors_mut(&mut self, visitor: &mut TensorVisitorMut<'_>);
}

/// A model and what goes with it (a [`Scaler`](crate::data::Scaler), say), read from one
/// file: `load_safetensors(&mut (&mut model, &mut scaler), path)`. The second's names must
/// differ from the first's.
impl<A: NamedTensors + ?Sized, B: NamedTensors + ?Sized> NamedTensors for (&mut A, &mut B) {
    fn visit_tensors(&self, visitor: &mut TensorVisitor<'_>) {
        self.0.visit_tensors(visitor);
        self.1.visit_tensors(visitor);
    }

    fn visit_tensors_mut(&mut self, visitor: &mut TensorVisitorMut<'_>) {
        self.0.visit_tensors_mut(visitor);
        self.1.visit_tensors_mut(visitor);
    }
}

/// Something whose tensors can be written to a file: anything with [`NamedTensors`], and a
/// model with what goes with it, `(&model, &scaler)`.
pub trait TensorSource {
    /// Calls `visitor` with each tensor's name, shape and values, in a fixed order.
    fn visit_source_tensors(&self, visitor: &mut TensorVisitor<'_>);
}

impl<T: NamedTensors + ?Sized> TensorSource for T {
    fn visit_source_tensors(&self, visitor: &mut TensorVisitor<'_>) {
        self.visit_tensors(visitor);
    }
}

impl<A: NamedTensors + ?Sized, B: NamedTensors + ?Sized> TensorSource for (&A, &B) {
    fn visit_source_tensors(&self, visitor: &mut TensorVisitor<'_>) {
        self.0.visit_tensors(visitor);
        self.1.visit_tensors(visitor);
    }
}

/// Writes every tensor of `model` to `path` as little-endian `F32` safetensors (counts as
/// `I64`, see [`is_count`]).
///
/// The file is written beside `path` under a temporary name, flushed, and renamed over `path`,
/// so a failed save (a full disk, a file-size limit) leaves the file that was there unchanged.
///
/// # Errors
/// [`Error::Io`] when the file cannot be written.
pub fn save_safetensors<M: TensorSource + ?Sized>(model: &M, path: &Path) -> Result<()> {
    let bytes = serialize(&tensor_entries(model, ""), None)?;
    write_atomically(path, &bytes).map_err(|e| io_error(path, e))
}

/// A tensor to write: its name, shape and little-endian bytes.
pub(crate) type Entry = (String, Vec<usize>, Vec<u8>);

/// Every tensor of `model`, its name after `prefix`, ready to write.
pub(crate) fn tensor_entries<M: TensorSource + ?Sized>(model: &M, prefix: &str) -> Vec<Entry> {
    let mut entries = Vec::new();
    model.visit_source_tensors(&mut |name, shape, values| {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        entries.push((format!("{prefix}{name}"), shape.to_vec(), bytes));
    });
    entries
}

/// The name that PyTorch's batch normalisation gives its count of training batches.
const COUNT: &str = "num_batches_tracked";

/// Whether the tensor `name` is a count that PyTorch stores as a 64-bit integer: a batch
/// normalisation's `num_batches_tracked`, alone or after a layer's name (`bn1.num_batches_tracked`).
///
/// Visitors hand such a tensor over as `f32` values like any other, so that models, early
/// stopping's snapshots and checkpoints keep one kind of tensor; files hold it as `I64`, as
/// PyTorch's state dicts do. The values are whole numbers, exact in `f32` up to 2²⁴.
pub fn is_count(name: &str) -> bool {
    name.rsplit('.').next() == Some(COUNT)
}

/// The bytes of a safetensors file of `F32` `entries`, with `metadata` in its header; counts
/// ([`is_count`]) are written as `I64`.
pub(crate) fn serialize(
    entries: &[Entry],
    metadata: Option<std::collections::HashMap<String, String>>,
) -> Result<Vec<u8>> {
    let counts: Vec<Option<Vec<u8>>> = entries
        .iter()
        .map(|(name, _, bytes)| is_count(name).then(|| i64_bytes(bytes)))
        .collect();
    let views = entries
        .iter()
        .zip(&counts)
        .map(|((name, shape, bytes), count)| {
            let view = match count {
                Some(count) => TensorView::new(Dtype::I64, shape.clone(), count),
                None => TensorView::new(Dtype::F32, shape.clone(), bytes),
            };
            Ok((name.as_str(), view.map_err(format_error)?))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, &metadata).map_err(format_error)
}

/// Little-endian `f32` bytes as little-endian `i64` bytes, each value rounded to the nearest
/// whole number (NaN as 0, out-of-range values saturated, as `as` does).
fn i64_bytes(f32_bytes: &[u8]) -> Vec<u8> {
    f32_bytes
        .chunks_exact(4)
        .flat_map(|b| (f32::from_le_bytes([b[0], b[1], b[2], b[3]]).round() as i64).to_le_bytes())
        .collect()
}

/// The dtype a file holds the tensor `name` in: `I64` for counts ([`is_count`]), else `F32`.
pub(crate) fn stored_dtype(name: &str) -> Dtype {
    if is_count(name) {
        Dtype::I64
    } else {
        Dtype::F32
    }
}

/// [`Error::Io`] for `path`.
pub(crate) fn io_error(path: &Path, error: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source: SourceError::new(error),
    }
}

/// [`Error::Format`], described in words, keeping the parser's error as its source.
pub(crate) fn format_error(error: SafeTensorError) -> Error {
    Error::Format {
        message: describe(&error),
        source: SourceError::new(error),
    }
}

/// What is wrong with a file, in words: safetensors' own `Display` is its `Debug` text.
fn describe(error: &SafeTensorError) -> String {
    match error {
        SafeTensorError::HeaderTooSmall => "the file is shorter than 8 bytes".into(),
        SafeTensorError::HeaderTooLarge => "the header is longer than 100 MB".into(),
        SafeTensorError::InvalidHeaderLength => {
            "the header's length runs past the end of the file".into()
        }
        SafeTensorError::InvalidHeader => "the header is not UTF-8".into(),
        SafeTensorError::InvalidHeaderStart => "the header does not start with `{`".into(),
        SafeTensorError::InvalidHeaderDeserialization => "the header is not valid JSON".into(),
        SafeTensorError::JsonError(error) => format!("the header is not valid JSON: {error}"),
        SafeTensorError::MetadataIncompleteBuffer => {
            "the tensors do not end where the file does".into()
        }
        SafeTensorError::InvalidOffset(name) => {
            format!("tensor `{name}` does not start where the one before it ends")
        }
        SafeTensorError::TensorInvalidInfo => {
            "a tensor's offsets do not span its shape and dtype".into()
        }
        SafeTensorError::ValidationOverflow => "a tensor's size overflows".into(),
        SafeTensorError::TensorNotFound(name) => format!("no tensor `{name}`"),
        SafeTensorError::InvalidTensorView(dtype, shape, bytes) => {
            format!("{bytes} bytes do not hold a {dtype:?} tensor of shape {shape:?}")
        }
        SafeTensorError::IoError(error) => error.to_string(),
    }
}

/// Writes `bytes` to a new file beside `path`, flushes it to the disk and renames it over
/// `path`: a reader sees the old file or the new one, whole, and a failed write (a full disk, a
/// file-size limit) leaves the old file byte for byte.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::sync::atomic::{AtomicU64, Ordering};

    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the path does not name a file",
        )
    })?;
    let mut temporary_name = std::ffi::OsString::from(".");
    temporary_name.push(name);
    temporary_name.push(format!(
        ".{}-{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let temporary = path.with_file_name(temporary_name);
    let written = std::fs::File::create_new(&temporary).and_then(|mut file| {
        // The new file keeps the old one's permissions, as an edit in place would.
        if let Ok(old) = std::fs::metadata(path) {
            file.set_permissions(old.permissions())?;
        }
        file.write_all(bytes)?;
        file.sync_all()
    });
    let renamed = written.and_then(|()| std::fs::rename(&temporary, path));
    if renamed.is_err() {
        // The temporary file is ours; failing to remove it changes nothing for the caller.
        let _ = std::fs::remove_file(&temporary);
    }
    renamed
}

/// Reads every tensor of `model` from the safetensors file at `path`.
///
/// Everything is checked before anything is written, so on error the model is unchanged.
///
/// # Errors
/// [`Error::Io`] when the file cannot be read; [`Error::Format`] when it is not safetensors
/// (truncated, say); [`Error::MissingTensor`], [`Error::UnexpectedTensor`],
/// [`Error::TensorShape`] or [`Error::TensorDtype`] when its tensors do not fit the model;
/// [`Error::NonFiniteTensor`] when a weight is NaN or infinite.
pub fn load_safetensors<M: NamedTensors + ?Sized>(model: &mut M, path: &Path) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
    load_safetensors_bytes(model, &bytes)
}

/// As [`load_safetensors`], from the bytes of a file.
///
/// # Errors
/// As [`load_safetensors`], less the I/O error.
pub fn load_safetensors_bytes<M: NamedTensors + ?Sized>(model: &mut M, bytes: &[u8]) -> Result<()> {
    let file = SafeTensors::deserialize(bytes).map_err(format_error)?;
    check_tensors(model, &file, "")?;
    let mut expected = HashSet::new();
    model.visit_tensors(&mut |name, _, _| {
        expected.insert(name.to_owned());
    });
    let mut names = file.names();
    names.sort();
    if let Some(extra) = names.into_iter().find(|name| !expected.contains(*name)) {
        return Err(Error::UnexpectedTensor {
            name: extra.clone(),
        });
    }
    copy_tensors(model, &file, "");
    Ok(())
}

/// Checks that `file` has every tensor of `model`, its name after `prefix`, with the model's
/// shape, as finite `F32` values (counts as `I64`, see [`is_count`]).
pub(crate) fn check_tensors<M: NamedTensors + ?Sized>(
    model: &M,
    file: &SafeTensors<'_>,
    prefix: &str,
) -> Result<()> {
    let mut problem = None;
    model.visit_tensors(&mut |name, shape, _| {
        if problem.is_some() {
            return;
        }
        let name = format!("{prefix}{name}");
        problem = match file.tensor(&name) {
            Err(_) => Some(Error::MissingTensor { name }),
            Ok(view) if view.dtype() != stored_dtype(&name) => Some(Error::TensorDtype {
                name,
                found: format!("{:?}", view.dtype()),
            }),
            Ok(view) if view.shape() != shape => Some(Error::TensorShape {
                name,
                expected: shape.to_vec(),
                found: view.shape().to_vec(),
            }),
            Ok(view) if view.dtype() == Dtype::F32 => non_finite(&name, view.data()),
            // Whole numbers are always finite.
            Ok(_) => None,
        };
    });
    problem.map_or(Ok(()), Err)
}

/// Copies into `model` the tensors [`check_tensors`] accepted.
pub(crate) fn copy_tensors<M: NamedTensors + ?Sized>(
    model: &mut M,
    file: &SafeTensors<'_>,
    prefix: &str,
) {
    model.visit_tensors_mut(&mut |name, _, values| {
        let view = file
            .tensor(&format!("{prefix}{name}"))
            .expect("checked before");
        read_values(&view, values);
    });
}

/// Reads into `values` the tensor `view`, which [`check_tensors`] accepted: `F32` as is, an
/// `I64` count converted to `f32`.
pub(crate) fn read_values(view: &TensorView<'_>, values: &mut [f32]) {
    if view.dtype() == Dtype::I64 {
        for (value, b) in values.iter_mut().zip(view.data().chunks_exact(8)) {
            *value = i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32;
        }
    } else {
        for (value, b) in values.iter_mut().zip(view.data().chunks_exact(4)) {
            *value = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
    }
}

/// [`Error::NonFiniteTensor`] for the first NaN or infinity among little-endian `f32` bytes: such
/// a weight would turn every output and gradient of the network into NaN.
fn non_finite(name: &str, bytes: &[u8]) -> Option<Error> {
    const EXPONENT: u32 = 0x7f80_0000;
    bytes.chunks_exact(4).enumerate().find_map(|(index, b)| {
        let bits = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        (bits & EXPONENT == EXPONENT).then(|| Error::NonFiniteTensor {
            name: name.to_owned(),
            index,
            value: f32::from_bits(bits),
        })
    })
}

/// A tensor read from a file: its shape and its values, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// The shape, outermost first.
    pub shape: Vec<usize>,
    /// The values, row-major.
    pub values: Vec<f32>,
}

/// Every tensor of a safetensors file, by name.
///
/// For data saved from PyTorch (`safetensors.torch.save_file({"input": x}, path)`).
///
/// # Errors
/// [`Error::Io`] when the file cannot be read, [`Error::Format`] when it is not safetensors, and
/// [`Error::TensorDtype`] for a tensor that is not `F32`.
pub fn read_tensors(path: &Path) -> Result<BTreeMap<String, Tensor>> {
    let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
    let file = SafeTensors::deserialize(&bytes).map_err(format_error)?;
    file.tensors()
        .into_iter()
        .map(|(name, view)| {
            let values = f32_values(&view).map_err(|_| Error::TensorDtype {
                name: name.clone(),
                found: format!("{:?}", view.dtype()),
            })?;
            let shape = view.shape().to_vec();
            Ok((name, Tensor { shape, values }))
        })
        .collect()
}

/// The values of an `F32` tensor.
///
/// # Errors
/// [`Error::TensorDtype`] (with no name) for a tensor of another type.
pub(crate) fn f32_values(view: &TensorView<'_>) -> Result<Vec<f32>> {
    if view.dtype() != Dtype::F32 {
        return Err(Error::TensorDtype {
            name: String::new(),
            found: format!("{:?}", view.dtype()),
        });
    }
    let values = view.data().chunks_exact(4);
    Ok(values
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One tensor of `len` values, `0, 1, 2, …` plus `offset`.
    struct Model {
        values: Vec<f32>,
    }

    impl Model {
        fn new(len: usize, offset: f32) -> Self {
            Model {
                values: (0..len).map(|i| i as f32 + offset).collect(),
            }
        }
    }

    impl NamedTensors for Model {
        fn visit_tensors(&self, visitor: &mut TensorVisitor<'_>) {
            visitor("values", &[self.values.len()], &self.values);
        }
        fn visit_tensors_mut(&mut self, visitor: &mut TensorVisitorMut<'_>) {
            let len = self.values.len();
            visitor("values", &[len], &mut self.values);
        }
    }

    /// A new, empty folder for one test.
    fn folder(test: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("nn-io-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn saving_replaces_the_file_whole_and_leaves_nothing_beside_it() {
        let dir = folder("replace");
        let path = dir.join("model.safetensors");
        save_safetensors(&Model::new(3, 0.0), &path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        }
        save_safetensors(&Model::new(5, 10.0), &path).unwrap();
        let mut loaded = Model::new(5, 0.0);
        load_safetensors(&mut loaded, &path).unwrap();
        assert_eq!(loaded.values, [10.0, 11.0, 12.0, 13.0, 14.0]);
        assert_eq!(names(&dir), ["model.safetensors"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o640);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A weight and a count, as a batch normalisation has.
    struct Counted {
        weight: [f32; 2],
        count: [f32; 1],
    }

    impl NamedTensors for Counted {
        fn visit_tensors(&self, visitor: &mut TensorVisitor<'_>) {
            visitor("bn.weight", &[2], &self.weight);
            visitor("bn.num_batches_tracked", &[], &self.count);
        }
        fn visit_tensors_mut(&mut self, visitor: &mut TensorVisitorMut<'_>) {
            visitor("bn.weight", &[2], &mut self.weight);
            visitor("bn.num_batches_tracked", &[], &mut self.count);
        }
    }

    #[test]
    fn counts_are_stored_as_int64_scalars_as_pytorch_stores_them() {
        assert!(is_count("num_batches_tracked"));
        assert!(is_count("features.0.num_batches_tracked"));
        assert!(!is_count("bn.num_batches_tracked_x"));
        assert!(!is_count("bn.weight"));
        let model = Counted {
            weight: [0.5, -2.0],
            count: [3.0],
        };
        let bytes = serialize(&tensor_entries(&model, ""), None).unwrap();
        let file = SafeTensors::deserialize(&bytes).unwrap();
        let count = file.tensor("bn.num_batches_tracked").unwrap();
        assert_eq!(count.dtype(), Dtype::I64);
        assert_eq!(count.shape(), [0usize; 0]);
        assert_eq!(count.data(), 3i64.to_le_bytes());
        assert_eq!(file.tensor("bn.weight").unwrap().dtype(), Dtype::F32);

        let mut loaded = Counted {
            weight: [0.0; 2],
            count: [0.0],
        };
        load_safetensors_bytes(&mut loaded, &bytes).unwrap();
        assert_eq!((loaded.weight, loaded.count), (model.weight, model.count));

        // A count stored as F32 is refused, naming the dtype PyTorch uses.
        let weight: Vec<u8> = [0.5f32, -2.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let stand_in = 3.0f32.to_le_bytes();
        let views = [
            (
                "bn.weight",
                TensorView::new(Dtype::F32, vec![2], &weight).unwrap(),
            ),
            (
                "bn.num_batches_tracked",
                TensorView::new(Dtype::F32, vec![], &stand_in).unwrap(),
            ),
        ];
        let f32_count = safetensors::serialize(views, &None).unwrap();
        let error = load_safetensors_bytes(&mut loaded, &f32_count).unwrap_err();
        assert_eq!(
            error.to_string(),
            "tensor `bn.num_batches_tracked` is stored as F32, expected I64"
        );
    }

    #[test]
    fn a_failed_rename_removes_the_temporary_file() {
        // The target is a folder: the temporary file is written, the rename fails.
        let dir = folder("rename");
        let target = dir.join("taken");
        std::fs::create_dir(&target).unwrap();
        let error = save_safetensors(&Model::new(3, 0.0), &target).unwrap_err();
        let Error::Io { path, source } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(path, &target.display().to_string());
        assert!(source.downcast_ref::<std::io::Error>().is_some());
        let message = source.to_string();
        assert!(
            message.ends_with(")") && !message.contains('{'),
            "{message}"
        );
        assert_eq!(names(&dir), ["taken"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_path_without_a_file_name_is_an_error() {
        let path = std::env::temp_dir().join("..");
        assert_eq!(
            save_safetensors(&Model::new(1, 0.0), &path)
                .unwrap_err()
                .to_string(),
            format!(
                "cannot access `{}`: the path does not name a file",
                path.display()
            )
        );
    }

    #[test]
    fn files_that_are_not_safetensors_are_described_in_words() {
        let mut model = Model::new(3, 0.0);
        let dir = folder("format");
        let path = dir.join("model.safetensors");
        save_safetensors(&model, &path).unwrap();
        let good = std::fs::read(&path).unwrap();
        let header = 8 + u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
        let mut long = good.clone();
        long.extend_from_slice(&[0; 4]);
        let mut not_json = good.clone();
        not_json[8] = b'[';
        let mut huge = good.clone();
        huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        for (bytes, message) in [
            (&good[..5], "the file is shorter than 8 bytes"),
            (
                &good[..header - 1],
                "the header's length runs past the end of the file",
            ),
            (
                &good[..good.len() - 4],
                "the tensors do not end where the file does",
            ),
            (&long[..], "the tensors do not end where the file does"),
            (&not_json[..], "the header is not valid JSON"),
            (&huge[..], "the header is longer than 100 MB"),
        ] {
            let error = load_safetensors_bytes(&mut model, bytes).unwrap_err();
            assert_eq!(
                error.to_string(),
                format!("not a valid safetensors file: {message}")
            );
        }
        std::fs::write(&path, &good[..good.len() - 4]).unwrap();
        let error = read_tensors(&path).unwrap_err();
        let Error::Format { message, source } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(message, "the tensors do not end where the file does");
        assert!(matches!(
            source.downcast_ref::<SafeTensorError>(),
            Some(SafeTensorError::MetadataIncompleteBuffer)
        ));
        let source = std::error::Error::source(&error).map(ToString::to_string);
        assert_eq!(
            source,
            Some(SafeTensorError::MetadataIncompleteBuffer.to_string())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
