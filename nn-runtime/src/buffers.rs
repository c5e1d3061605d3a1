//! The memory a generated network keeps between passes: each layer's output and gradient.

use crate::aligned::AlignedVec;
use crate::size;

/// `N` row-major buffers, one per layer output, layer gradient or dropout mask of a network,
/// sized together for a batch, and the input of the last training pass.
///
/// A generated network holds one, and its passes name each buffer after its layer
/// (`let [fc1, relu, d_fc1, …] = buffers.slots_mut();`). Memory is kept when a batch shrinks,
/// so a warm step allocates nothing.
///
/// ```
/// use nn_runtime::private::Buffers;
///
/// let mut buffers = Buffers::new([128, 2]);
/// buffers.resize(32);
/// let [hidden, output] = buffers.slots_mut();
/// assert_eq!((hidden.len(), output.len()), (32 * 128, 32 * 2));
/// ```
#[derive(Debug, Clone)]
pub struct Buffers<const N: usize> {
    widths: [usize; N],
    rows: usize,
    input: Vec<f32>,
    slots: [AlignedVec; N],
}

impl<const N: usize> Buffers<N> {
    /// Empty buffers that hold `widths[i]` values per row each.
    pub fn new(widths: [usize; N]) -> Self {
        Buffers {
            widths,
            rows: 0,
            input: Vec::new(),
            slots: std::array::from_fn(|_| AlignedVec::default()),
        }
    }

    /// Empty buffers of the same widths, for a pass that must not touch these.
    pub fn fresh(&self) -> Self {
        Buffers::new(self.widths)
    }

    /// Sizes every buffer for `rows` rows.
    ///
    /// # Panics
    /// If a buffer of `rows` rows would not fit in memory (the batch has already been
    /// allocated, so this only happens for widths far beyond the input's).
    pub fn resize(&mut self, rows: usize) {
        self.rows = rows;
        for (slot, &width) in self.slots.iter_mut().zip(&self.widths) {
            slot.resize(size::values(rows, width));
        }
    }

    /// The rows the buffers are sized for.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Every buffer, to be bound by name.
    pub fn slots_mut(&mut self) -> &mut [AlignedVec; N] {
        &mut self.slots
    }

    /// Keeps a copy of `x`, the input of a training pass, for the backward pass after it.
    pub fn record_input(&mut self, x: &[f32]) {
        self.input.clear();
        self.input.extend_from_slice(x);
    }

    /// The rows of the input kept by [`record_input`](Self::record_input), if it holds whole
    /// rows of `width` values and the buffers are sized for as many.
    pub fn recorded_rows(&self, width: usize) -> Option<usize> {
        (size::checked_values(self.rows, width) == Ok(self.input.len())).then_some(self.rows)
    }

    /// The input kept by [`record_input`](Self::record_input), and every buffer.
    pub fn input_and_slots_mut(&mut self) -> (&[f32], &mut [AlignedVec; N]) {
        (&self.input, &mut self.slots)
    }
}

impl<const N: usize> Default for Buffers<N> {
    /// Buffers of width zero: a stand-in while the real ones are lent out.
    fn default() -> Self {
        Buffers::new([0; N])
    }
}

impl<const N: usize> PartialEq for Buffers<N> {
    /// Scratch memory holds no state worth comparing: any two are equal, so that a network's
    /// derived `PartialEq` compares its weights.
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resizing_sizes_every_buffer_and_keeps_the_widths() {
        let mut buffers = Buffers::new([3, 1, 0]);
        buffers.resize(4);
        assert_eq!(buffers.rows(), 4);
        let lens = buffers.slots_mut().each_ref().map(|s| s.len());
        assert_eq!(lens, [12, 4, 0]);
        let mut fresh = buffers.fresh();
        fresh.resize(2);
        assert_eq!(fresh.slots_mut().each_ref().map(|s| s.len()), [6, 2, 0]);
        assert_eq!(buffers.recorded_rows(2), None);
        buffers.resize(1);
        buffers.record_input(&[1.0, 2.0]);
        assert_eq!(buffers.input_and_slots_mut().0, &[1.0, 2.0]);
        assert_eq!(buffers.recorded_rows(2), Some(1));
        assert_eq!(buffers.recorded_rows(3), None);
    }
}
