//! The chain in order, with each `Residual`'s layers in place: what `check` and `lower` walk.
//! A `Residual` is an entry of its own, its layers follow it, and the last of them records that
//! the `Residual` ends there.

use syn::ext::IdentExt;

use crate::parse::{Chain, LayerCall};

/// One layer of the chain and where it sits.
pub(crate) struct Entry<'a> {
    pub call: &'a LayerCall,
    /// Its index as `nn.Sequential` numbers it, with the indices of the `Residual`s it sits in
    /// first: `[3]`, or `[2, 0]` for the first layer of the `Residual` at 2.
    pub position: Vec<usize>,
    /// How many `Residual`s end after this layer (an empty `Residual` ends after itself).
    pub closes: usize,
}

impl Entry<'_> {
    /// PyTorch's name of the module: its label, or its position (`3`, `2.0`).
    pub fn key(&self) -> String {
        match &self.call.label {
            Some(label) => label.unraw().to_string(),
            None => self.join("."),
        }
    }

    /// The position as part of a Rust name: `3`, `2_0`.
    pub fn suffix(&self) -> String {
        self.join("_")
    }

    /// How deep in `Residual`s it sits: 0 in the network's own chain.
    pub fn depth(&self) -> usize {
        self.position.len() - 1
    }

    fn join(&self, separator: &str) -> String {
        self.position
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(separator)
    }
}

/// Every layer of `chain`, `Residual`s' layers in place after them.
pub(crate) fn entries(chain: &Chain) -> Vec<Entry<'_>> {
    let mut out = Vec::new();
    push(chain, &[], &mut out);
    out
}

fn push<'a>(chain: &'a Chain, outer: &[usize], out: &mut Vec<Entry<'a>>) {
    // `Input` is no module: the layers after it are numbered from 0, as in the
    // `nn.Sequential` PyTorch would build of them.
    let opens_with_input = outer.is_empty()
        && chain
            .layers
            .first()
            .is_some_and(|layer| layer.name.is_ident("Input"));
    for (index, call) in chain.layers.iter().enumerate() {
        let mut position = outer.to_vec();
        position.push(index.saturating_sub(usize::from(opens_with_input)));
        out.push(Entry {
            call,
            position: position.clone(),
            closes: 0,
        });
        if let Some(body) = &call.body {
            push(&body.chain, &position, out);
            if let Some(last) = out.last_mut() {
                last.closes += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::NetworkInput;

    #[test]
    fn residual_layers_follow_their_residual() {
        let input: NetworkInput = syn::parse_str(
            "Linear(4, 8) -> Residual(Linear(8, 8) -> Residual(fc: Linear(8, 8))) -> Residual()",
        )
        .unwrap();
        let entries = entries(&input.chain);
        let summary: Vec<(String, String, usize)> = entries
            .iter()
            .map(|e| (e.key(), e.suffix(), e.closes))
            .collect();
        assert_eq!(
            summary,
            [
                ("0".into(), "0".into(), 0),
                ("1".into(), "1".into(), 0),
                ("1.0".into(), "1_0".into(), 0),
                ("1.1".into(), "1_1".into(), 0),
                ("fc".into(), "1_1_0".into(), 2),
                ("2".into(), "2".into(), 1),
            ]
        );
        assert_eq!(entries[4].depth(), 2);

        let input: NetworkInput =
            syn::parse_str("Input(1, 40) -> Conv1d(1, 2, 3) -> Flatten -> Linear(76, 1)").unwrap();
        let keys: Vec<String> = super::entries(&input.chain)[1..]
            .iter()
            .map(Entry::key)
            .collect();
        assert_eq!(keys, ["0", "1", "2"]);
    }
}
