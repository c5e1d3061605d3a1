//! Weights in the safetensors format, with PyTorch's names and layouts.
//!
//! A PyTorch state dict saved with `safetensors.torch.save_file(model.state_dict(), path)` loads
//! as is, and what is saved here loads into PyTorch with `load_file` + `load_state_dict`.

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

/// Writes every tensor of `model` to `path` as little-endian `F32` safetensors.
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

/// The bytes of a safetensors file of `F32` `entries`, with `metadata` in its header.
pub(crate) fn serialize(
    entries: &[Entry],
    metadata: Option<std::collections::HashMap<String, String>>,
) -> Result<Vec<u8>> {
    let views = entries
        .iter()
        .map(|(name, shape, bytes)| {
            let view = TensorView::new(Dtype::F32, shape.clone(), bytes).map_err(format_error)?;
            Ok((name.as_str(), view))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, &metadata).map_err(format_error)
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
/// shape, as finite `F32` values.
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
            Ok(view) if view.dtype() != Dtype::F32 => Some(Error::TensorDtype {
                name,
                found: format!("{:?}", view.dtype()),
            }),
            Ok(view) if view.shape() != shape => Some(Error::TensorShape {
                name,
                expected: shape.to_vec(),
                found: view.shape().to_vec(),
            }),
            Ok(view) => non_finite(&name, view.data()),
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
        for (value, bytes) in values.iter_mut().zip(view.data().chunks_exact(4)) {
            *value = f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
    });
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
