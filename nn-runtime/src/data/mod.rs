//! Data sets from CSV files (gzip-compressed too), into typed batches: which columns are
//! features and which is the target is said once, and the file is checked against the
//! network's widths as it is read.
//!
//! ```no_run
//! use nn_runtime::data::Csv;
//!
//! // 64 pixel columns and a `label` column holding the class, 0 to 9.
//! let (images, labels) = Csv::new().target("label").read_classes::<64>("digits.csv.gz", 10)?;
//! # Ok::<(), nn_runtime::Error>(())
//! ```

mod scale;

use std::io::Read;
use std::path::Path;

pub use scale::{Scaler, Scaling};

use crate::batch::{Batch, Labels};
use crate::error::{Error, Result};

/// How to read a CSV file: whether it has a header row, the delimiter, and which columns hold
/// the target. Every other column is a feature, in file order.
#[derive(Debug, Clone)]
pub struct Csv {
    header: bool,
    delimiter: u8,
    target: Vec<Column>,
}

/// A column, by name (from the header row) or by position from 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    /// The column whose header is this name.
    Name(String),
    /// The column at this position, counted from 0.
    Index(usize),
}

impl From<&str> for Column {
    fn from(name: &str) -> Self {
        Column::Name(name.to_owned())
    }
}

impl From<usize> for Column {
    fn from(index: usize) -> Self {
        Column::Index(index)
    }
}

impl Default for Csv {
    fn default() -> Self {
        Csv::new()
    }
}

/// A parsed file: its rows of features and of targets.
struct Table {
    features: Vec<f32>,
    targets: Vec<f32>,
    rows: usize,
    /// The first target column, described for messages.
    target_column: String,
}

impl Csv {
    /// Comma-separated, with a header row, and the last column as the target.
    pub fn new() -> Self {
        Csv {
            header: true,
            delimiter: b',',
            target: Vec::new(),
        }
    }

    /// Whether the first row names the columns (default `true`).
    pub fn header(mut self, header: bool) -> Self {
        self.header = header;
        self
    }

    /// The field delimiter (default `b','`; `b'\t'` for TSV).
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// The target column, by name (`"label"`) or position (`64`). Default: the last column.
    pub fn target(mut self, column: impl Into<Column>) -> Self {
        self.target = vec![column.into()];
        self
    }

    /// Several target columns, for a regression with more than one output.
    pub fn targets<C: Into<Column>>(mut self, columns: impl IntoIterator<Item = C>) -> Self {
        self.target = columns.into_iter().map(Into::into).collect();
        self
    }

    /// Reads a classification data set: `F` feature columns, and one target column holding
    /// class indices below `classes` (written as integers, `3` or `3.0`).
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be read; [`Error::Csv`] naming the file, line and
    /// column of the first problem: a field that is not a number, a row with another number of
    /// fields, a class that is not an index below `classes`, a file whose columns other than
    /// the target are not exactly `F`, a target column that does not exist. Nothing is
    /// returned then.
    pub fn read_classes<const F: usize>(
        &self,
        path: impl AsRef<Path>,
        classes: usize,
    ) -> Result<(Batch<F>, Labels)> {
        let path = path.as_ref();
        let table = self.read_table(path, F, Some(1))?;
        let target_column = &table.target_column;
        let labels = table
            .targets
            .iter()
            .enumerate()
            .map(|(row, &value)| {
                let index = value as usize;
                if value >= 0.0 && value.fract() == 0.0 && index < classes {
                    Ok(index)
                } else {
                    Err(csv_error(
                        path,
                        self.line_of(row),
                        target_column,
                        format!("expected a class index below {classes}, found {value}"),
                    ))
                }
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((
            Batch::from_vec(table.rows, table.features)?,
            Labels::new(labels, classes)?,
        ))
    }

    /// Reads a regression data set: `F` feature columns and `T` target columns (see
    /// [`targets`](Self::targets); one, the last, by default).
    ///
    /// # Errors
    /// As [`read_classes`](Self::read_classes), with `T` target columns.
    pub fn read_values<const F: usize, const T: usize>(
        &self,
        path: impl AsRef<Path>,
    ) -> Result<(Batch<F>, Batch<T>)> {
        let table = self.read_table(path.as_ref(), F, Some(T))?;
        Ok((
            Batch::from_vec(table.rows, table.features)?,
            Batch::from_vec(table.rows, table.targets)?,
        ))
    }

    /// The line of data row `row`, counted from 1 as editors do.
    fn line_of(&self, row: usize) -> u64 {
        row as u64 + 1 + u64::from(self.header)
    }

    /// Reads every row, splitting features from targets; `features` and `targets` are the
    /// numbers of columns each must have.
    fn read_table(&self, path: &Path, features: usize, targets: Option<usize>) -> Result<Table> {
        let text = read_text(path)?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(self.header)
            .delimiter(self.delimiter)
            .flexible(true)
            .from_reader(text.as_bytes());
        let names: Vec<String> = if self.header {
            let header = reader
                .headers()
                .map_err(|e| csv_error(path, 1, "the header", e.to_string()))?;
            header.iter().map(str::to_owned).collect()
        } else {
            Vec::new()
        };

        let mut table = Table {
            features: Vec::new(),
            targets: Vec::new(),
            rows: 0,
            target_column: String::new(),
        };
        let mut layout: Option<Layout> = None;
        for (row, record) in reader.records().enumerate() {
            let line = self.line_of(row);
            let record = record.map_err(|e| csv_error(path, line, "a field", e.to_string()))?;
            let layout = match &layout {
                Some(layout) => layout,
                None => {
                    let found = self.layout(path, &names, record.len(), features, targets)?;
                    let first_target = found.is_target.iter().position(|&t| t).unwrap_or(0);
                    table.target_column = describe_column(first_target, &names);
                    layout.insert(found)
                }
            };
            if record.len() != layout.columns {
                return Err(csv_error(
                    path,
                    line,
                    "the row",
                    format!(
                        "expected {} fields, as in the first row, found {}",
                        layout.columns,
                        record.len()
                    ),
                ));
            }
            for (column, field) in record.iter().enumerate() {
                let value: f32 = field.trim().parse().map_err(|_| {
                    let column = describe_column(column, &names);
                    csv_error(path, line, &column, format!("`{field}` is not a number"))
                })?;
                if layout.is_target[column] {
                    table.targets.push(value);
                } else {
                    table.features.push(value);
                }
            }
            table.rows += 1;
        }
        if table.rows == 0 {
            return Err(csv_error(
                path,
                self.line_of(0),
                "the file",
                "no data rows".into(),
            ));
        }
        Ok(table)
    }

    /// Which of `columns` are targets, checked against the widths the caller needs.
    fn layout(
        &self,
        path: &Path,
        names: &[String],
        columns: usize,
        features: usize,
        targets: Option<usize>,
    ) -> Result<Layout> {
        let header_line = 1;
        let mut is_target = vec![false; columns];
        let target_indices: Vec<usize> = if self.target.is_empty() {
            vec![columns.saturating_sub(1)]
        } else {
            self.target
                .iter()
                .map(|column| match column {
                    Column::Index(index) if *index < columns => Ok(*index),
                    Column::Index(index) => Err(csv_error(
                        path,
                        header_line,
                        "the target",
                        format!("column {} does not exist: rows have {columns}", index + 1),
                    )),
                    Column::Name(name) => names.iter().position(|n| n == name).ok_or_else(|| {
                        let why = if self.header {
                            format!("no column is named `{name}`")
                        } else {
                            format!("no header row to find the column `{name}` in")
                        };
                        csv_error(path, header_line, "the target", why)
                    }),
                })
                .collect::<Result<_>>()?
        };
        for &index in &target_indices {
            is_target[index] = true;
        }
        let target_count = is_target.iter().filter(|&&t| t).count();
        let feature_count = columns - target_count;
        let line = self.line_of(0);
        if let Some(expected) = targets {
            if target_count != expected {
                return Err(csv_error(
                    path,
                    line,
                    "the target",
                    format!("expected {expected} target columns, found {target_count}"),
                ));
            }
        }
        if feature_count != features {
            return Err(csv_error(
                path,
                line,
                "the row",
                format!(
                    "expected {features} feature columns (the network's input width), found \
                     {feature_count} ({columns} columns, {target_count} of them targets)"
                ),
            ));
        }
        Ok(Layout { columns, is_target })
    }
}

/// Row indices `0..rows` shuffled by `seed` and cut into consecutive parts of the given
/// fractions (train, validation, test…): `split(1797, &[0.8, 0.2], 0)`. Each part gets
/// `⌊fraction·rows⌋` rows, the last part also what rounding left over when the fractions add up
/// to 1. Select the rows with [`Batch::select`] and [`Labels::select`].
///
/// ```
/// use nn_runtime::data::split;
/// let parts = split(10, &[0.6, 0.2, 0.2], 7)?;
/// assert_eq!(parts.iter().map(Vec::len).collect::<Vec<_>>(), [6, 2, 2]);
/// assert_eq!(parts, split(10, &[0.6, 0.2, 0.2], 7)?); // the same seed, the same split
/// # Ok::<(), nn_runtime::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidArgument`] when a fraction is negative or not finite, or they add up to
/// more than 1.
pub fn split(rows: usize, fractions: &[f64], seed: u64) -> Result<Vec<Vec<usize>>> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;

    let total: f64 = fractions.iter().sum();
    if fractions.iter().any(|f| !(0.0..=1.0).contains(f)) || total > 1.0 + 1e-9 {
        return Err(Error::InvalidArgument {
            name: "split fractions",
            message: format!("each must be in [0, 1] and together at most 1, found {fractions:?}"),
        });
    }
    let mut order: Vec<usize> = (0..rows).collect();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
    let mut sizes: Vec<usize> = fractions
        .iter()
        .map(|f| (f * rows as f64).floor() as usize)
        .collect();
    if (total - 1.0).abs() <= 1e-9 {
        let before_last: usize = sizes.iter().rev().skip(1).sum();
        if let Some(last) = sizes.last_mut() {
            *last = rows - before_last;
        }
    }
    let mut start = 0;
    Ok(sizes
        .into_iter()
        .map(|size| {
            let part = order[start..start + size].to_vec();
            start += size;
            part
        })
        .collect())
}

/// Row indices from a text file, one per line (a split saved by another program, such as
/// `numpy.random.permutation`'s output): blank lines are skipped.
///
/// # Errors
/// [`Error::Io`] if it cannot be read; [`Error::Csv`] naming the line that is not an index.
pub fn read_indices(path: impl AsRef<Path>) -> Result<Vec<usize>> {
    let path = path.as_ref();
    let text = read_text(path)?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(number, line)| {
            line.trim().parse().map_err(|_| {
                let message = format!("`{}` is not a row index", line.trim());
                csv_error(path, number as u64 + 1, "the line", message)
            })
        })
        .collect()
}

/// The columns of a file: how many, and which are targets.
struct Layout {
    columns: usize,
    is_target: Vec<bool>,
}

/// The file's text, decompressed if it starts as a gzip stream does.
fn read_text(path: &Path) -> Result<String> {
    let io = |e| crate::io::io_error(path, e);
    let bytes = std::fs::read(path).map_err(io)?;
    let mut text = String::new();
    if bytes.starts_with(&[0x1f, 0x8b]) {
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .map_err(io)?;
    } else {
        text = String::from_utf8(bytes)
            .map_err(|e| io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
    }
    Ok(text)
}

/// `column 3 (`pixel_2`)`, or `column 3` without a header.
fn describe_column(column: usize, names: &[String]) -> String {
    match names.get(column) {
        Some(name) => format!("column {} (`{name}`)", column + 1),
        None => format!("column {}", column + 1),
    }
}

fn csv_error(path: &Path, line: u64, column: &str, message: String) -> Error {
    Error::Csv {
        path: path.display().to_string(),
        line,
        column: column.to_owned(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::path::PathBuf;

    /// A file of this test's own in the temporary folder, holding `contents`.
    fn file(name: &str, contents: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("nn-csv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    fn message(error: Error, path: &Path) -> String {
        error
            .to_string()
            .replace(&path.display().to_string(), "FILE")
    }

    const IRIS: &str = "a,b,label\n1,2,0\n3.5,-4,2\n 5e-1 ,6,1\n";

    #[test]
    fn reads_features_and_classes_by_name() {
        let path = file("classes.csv", IRIS.as_bytes());
        let (x, y) = Csv::new()
            .target("label")
            .read_classes::<2>(&path, 3)
            .unwrap();
        assert_eq!(x.as_slice(), &[1.0, 2.0, 3.5, -4.0, 0.5, 6.0]);
        assert_eq!((y.indices(), y.classes()), (&[0, 2, 1][..], 3));
    }

    #[test]
    fn the_target_is_the_last_column_by_default_and_may_sit_anywhere() {
        let path = file("first.csv", b"7,1,2\n8,3,4\n");
        let csv = Csv::new().header(false);
        let (x, y) = csv.read_values::<2, 1>(&path).unwrap();
        assert_eq!(
            (x.as_slice(), y.as_slice()),
            (&[7.0, 1.0, 8.0, 3.0][..], &[2.0, 4.0][..])
        );
        let (x, y) = csv.clone().target(0).read_values::<2, 1>(&path).unwrap();
        assert_eq!(
            (x.as_slice(), y.as_slice()),
            (&[1.0, 2.0, 3.0, 4.0][..], &[7.0, 8.0][..])
        );
        let (x, y) = csv.targets([0, 2]).read_values::<1, 2>(&path).unwrap();
        assert_eq!(
            (x.as_slice(), y.as_slice()),
            (&[1.0, 3.0][..], &[7.0, 2.0, 8.0, 4.0][..])
        );
    }

    #[test]
    fn reads_gzip_and_other_delimiters() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(IRIS.replace(',', "\t").as_bytes()).unwrap();
        let path = file("classes.tsv.gz", &gz.finish().unwrap());
        let (x, y) = Csv::new()
            .delimiter(b'\t')
            .read_classes::<2>(&path, 3)
            .unwrap();
        assert_eq!((x.rows(), y.indices()), (3, &[0, 2, 1][..]));
    }

    #[test]
    fn a_bad_field_names_its_file_line_and_column() {
        let path = file("bad.csv", b"a,b,label\n1,2,0\n3,x4,1\n");
        let error = Csv::new().read_classes::<2>(&path, 3).unwrap_err();
        assert_eq!(
            message(error, &path),
            "FILE, line 3, column 2 (`b`): `x4` is not a number"
        );
    }

    #[test]
    fn a_ragged_row_is_an_error() {
        let path = file("ragged.csv", b"1,2,0\n3,4\n");
        let error = Csv::new().header(false).read_classes::<2>(&path, 3);
        assert_eq!(
            message(error.unwrap_err(), &path),
            "FILE, line 2, the row: expected 3 fields, as in the first row, found 2"
        );
    }

    #[test]
    fn the_width_must_be_the_networks() {
        let path = file("wide.csv", IRIS.as_bytes());
        let error = Csv::new().read_classes::<3>(&path, 3).unwrap_err();
        assert_eq!(
            message(error, &path),
            "FILE, line 2, the row: expected 3 feature columns (the network's input width), \
             found 2 (3 columns, 1 of them targets)"
        );
        let error = Csv::new().read_values::<1, 1>(&path).unwrap_err();
        assert!(message(error, &path).contains("expected 1 feature columns"));
    }

    #[test]
    fn a_missing_target_column_is_an_error() {
        let path = file("names.csv", IRIS.as_bytes());
        let error = Csv::new().target("class").read_classes::<2>(&path, 3);
        assert_eq!(
            message(error.unwrap_err(), &path),
            "FILE, line 1, the target: no column is named `class`"
        );
        let error = Csv::new().target(5).read_classes::<2>(&path, 3);
        assert_eq!(
            message(error.unwrap_err(), &path),
            "FILE, line 1, the target: column 6 does not exist: rows have 3"
        );
        let headless = Csv::new().header(false).target("label");
        let error = headless.read_classes::<2>(&path, 3).unwrap_err();
        assert!(message(error, &path).contains("no header row"));
    }

    #[test]
    fn a_class_must_be_an_index_below_the_count() {
        for (label, found) in [("3", "3"), ("-1", "-1"), ("1.5", "1.5")] {
            let path = file(
                "label.csv",
                format!("a,b,label\n1,2,0\n3,4,{label}\n").as_bytes(),
            );
            let error = Csv::new().read_classes::<2>(&path, 3).unwrap_err();
            assert_eq!(
                message(error, &path),
                format!(
                    "FILE, line 3, column 3 (`label`): expected a class index below 3, found \
                     {found}"
                )
            );
        }
    }

    #[test]
    fn splits_are_seeded_disjoint_and_sized_by_fraction() {
        let parts = split(1797, &[0.8, 0.1, 0.1], 0).unwrap();
        assert_eq!(
            parts.iter().map(Vec::len).collect::<Vec<_>>(),
            [1437, 179, 181]
        );
        let mut all: Vec<usize> = parts.concat();
        all.sort_unstable();
        assert_eq!(all, (0..1797).collect::<Vec<_>>());
        assert_ne!(parts, split(1797, &[0.8, 0.1, 0.1], 1).unwrap());
        // Fractions below 1 in all leave the rest out.
        let parts = split(10, &[0.5], 3).unwrap();
        assert_eq!(parts[0].len(), 5);
        for bad in [&[0.7, 0.4][..], &[-0.1][..], &[f64::NAN][..]] {
            assert!(matches!(
                split(10, bad, 0),
                Err(Error::InvalidArgument { .. })
            ));
        }
    }

    #[test]
    fn indices_are_read_one_per_line() {
        let path = file("order.txt", b"3\n0\n\n2\n");
        assert_eq!(read_indices(&path).unwrap(), [3, 0, 2]);
        let path = file("bad-order.txt", b"3\n-1\n");
        let error = read_indices(&path).unwrap_err();
        assert_eq!(
            message(error, &path),
            "FILE, line 2, the line: `-1` is not a row index"
        );
    }

    #[test]
    fn a_file_without_rows_or_that_is_not_there_is_an_error() {
        let path = file("empty.csv", b"a,b,label\n");
        let error = Csv::new().read_classes::<2>(&path, 3).unwrap_err();
        assert_eq!(
            message(error, &path),
            "FILE, line 2, the file: no data rows"
        );
        let missing = path.with_file_name("missing.csv");
        let error = Csv::new().read_classes::<2>(&missing, 3).unwrap_err();
        assert!(matches!(error, Error::Io { .. }), "{error:?}");
        let binary = file("binary.csv", &[0xff, 0xfe, 0x00]);
        let error = Csv::new().read_classes::<2>(&binary, 3).unwrap_err();
        assert!(matches!(error, Error::Io { .. }), "{error:?}");
    }
}
