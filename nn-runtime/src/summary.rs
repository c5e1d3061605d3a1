//! The summary table printed by a generated network's `Display`.

use std::fmt;

/// Writes a table of `(layer, output shape, parameters)` rows under `title`, with a total. A
/// shape of one dimension is a width (`128`), of more a tuple (`(25, 19)`).
#[doc(hidden)]
pub fn write_summary(
    f: &mut fmt::Formatter<'_>,
    title: &str,
    rows: &[(&str, &[usize], usize)],
) -> fmt::Result {
    let shapes: Vec<String> = rows.iter().map(|(_, shape, _)| shape_text(shape)).collect();
    let shape_width = shapes.iter().map(String::len).chain([8]).max().unwrap_or(8);
    let name_width = rows
        .iter()
        .map(|(name, _, _)| name.chars().count())
        .chain([5])
        .max()
        .unwrap_or(5);
    writeln!(f, "{title}")?;
    writeln!(
        f,
        "{:<name_width$}  {:>shape_width$}  {:>10}",
        "layer", "output", "parameters"
    )?;
    let rule = "-".repeat(name_width + shape_width + 14);
    writeln!(f, "{rule}")?;
    for ((name, _, params), shape) in rows.iter().zip(&shapes) {
        writeln!(
            f,
            "{name:<name_width$}  {shape:>shape_width$}  {params:>10}"
        )?;
    }
    writeln!(f, "{rule}")?;
    let total: usize = rows.iter().map(|(_, _, p)| p).sum();
    write!(
        f,
        "{:<name_width$}  {:>shape_width$}  {total:>10}",
        "total", ""
    )
}

/// `128`, or `(25, 19)`.
fn shape_text(shape: &[usize]) -> String {
    match shape {
        [width] => width.to_string(),
        dims => {
            let dims: Vec<String> = dims.iter().map(usize::to_string).collect();
            format!("({})", dims.join(", "))
        }
    }
}
