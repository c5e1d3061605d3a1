//! The summary table printed by a generated network's `Display`.

use std::fmt;

/// Writes a table of `(layer, output width, parameters)` rows under `title`, with a total.
#[doc(hidden)]
pub fn write_summary(
    f: &mut fmt::Formatter<'_>,
    title: &str,
    rows: &[(&str, usize, usize)],
) -> fmt::Result {
    let name_width = rows
        .iter()
        .map(|(name, _, _)| name.chars().count())
        .chain([5])
        .max()
        .unwrap_or(5);
    writeln!(f, "{title}")?;
    writeln!(
        f,
        "{:<name_width$}  {:>8}  {:>10}",
        "layer", "output", "parameters"
    )?;
    writeln!(f, "{}", "-".repeat(name_width + 22))?;
    for (name, width, params) in rows {
        writeln!(f, "{name:<name_width$}  {width:>8}  {params:>10}")?;
    }
    writeln!(f, "{}", "-".repeat(name_width + 22))?;
    let total: usize = rows.iter().map(|(_, _, p)| p).sum();
    write!(f, "{:<name_width$}  {:>8}  {total:>10}", "total", "")
}
