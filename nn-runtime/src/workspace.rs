//! Reusable buffers for the activations and gradients of a training step.

/// One block of memory, split into row-major buffers for a given batch size.
///
/// Generated code asks for all of a step's buffers at once; the memory is reused from step to
/// step and grows only when a larger batch arrives, so a warm step allocates nothing.
///
/// ```
/// use nn_runtime::Workspace;
///
/// let mut workspace = Workspace::default();
/// let [hidden, output] = workspace.split(32, [128, 2]);
/// assert_eq!((hidden.len(), output.len()), (32 * 128, 32 * 2));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Workspace {
    memory: Vec<f32>,
}

impl PartialEq for Workspace {
    /// Scratch memory holds no state worth comparing: any two workspaces are equal.
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl Workspace {
    /// Buffers of `rows × widths[i]` values each, in order, without overlap.
    ///
    /// Their contents are whatever the last step left there.
    pub fn split<const N: usize>(&mut self, rows: usize, widths: [usize; N]) -> [&mut [f32]; N] {
        let total: usize = widths.iter().map(|w| w * rows).sum();
        if self.memory.len() < total {
            self.memory.resize(total, 0.0);
        }
        let mut rest: &mut [f32] = &mut self.memory;
        widths.map(|width| {
            let (buffer, tail) = std::mem::take(&mut rest).split_at_mut(width * rows);
            rest = tail;
            buffer
        })
    }
}
