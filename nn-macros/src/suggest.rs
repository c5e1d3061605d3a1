//! Did-you-mean for layer names.

/// The known name closest to `written`, if it is close enough to be a likely typo: the same
/// name in other letter case (`Relu`, `linear`), or one edit away (`Sigmod`, `Tahn`).
///
/// One edit, not two: `Swish` is two edits from `Mish` and is a custom activation.
pub(crate) fn closest<'a>(
    written: &str,
    known: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = written.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for name in known {
        let distance = if name.to_lowercase() == lower {
            0
        } else {
            edit_distance(&lower, &name.to_lowercase())
        };
        if distance <= 1 && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, name));
        }
    }
    best.map(|(_, name)| name)
}

/// Edit distance counting an insertion, a deletion, a substitution or a swap of two neighbours
/// as one edit each (optimal string alignment).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // d[i][j]: distance between the first i letters of a and the first j of b.
    let mut d = vec![vec![0; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 4] = ["ReLU", "Sigmoid", "Linear", "LeakyReLU"];

    #[test]
    fn near_misses_find_their_layer() {
        assert_eq!(closest("Relu", NAMES), Some("ReLU"));
        assert_eq!(closest("Sigmod", NAMES), Some("Sigmoid"));
        assert_eq!(closest("linear", NAMES), Some("Linear"));
        assert_eq!(closest("LeakyRelu", NAMES), Some("LeakyReLU"));
        assert_eq!(closest("Sigmiod", NAMES), Some("Sigmoid"));
    }

    #[test]
    fn other_names_are_left_alone() {
        assert_eq!(closest("Swish", NAMES), None);
        assert_eq!(closest("MyActivation", NAMES), None);
        assert_eq!(closest("Swish", ["Mish"]), None);
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
        assert_eq!(edit_distance("tahn", "tanh"), 1);
    }
}
