//! The convolution both [`Conv1d`](super::Conv1d) and [`Conv2d`](super::Conv2d) run: a
//! two-dimensional one, of which a one-dimensional convolution is the case of an input one row
//! high. Its sizes (`shape.rs`), the rearrangements that make it matrix products
//! (`columns.rs`), and its passes (here), over the parameters the layers store.

mod columns;
mod generated;
mod shape;

use rand::Rng;

use super::{rows_of, rows_of_mut};
use crate::error::{Error, Result};
use crate::kernel::{self, Operand};
pub use generated::{conv_backward_input, conv_backward_params, conv_forward, widest, ConvPasses};
pub(super) use shape::{invalid, positive, AxisNames, Names, Shape, Spec};

/// PyTorch's default initialisation (`kaiming_uniform_(a=√5)` and its bias rule): `weight`,
/// then `bias`, uniform in `±1/√fan_in`, drawn in that order from `rng`.
pub(super) fn initialise<R: Rng + ?Sized>(
    weight: &mut [f32],
    bias: &mut [f32],
    fan_in: usize,
    rng: &mut R,
) {
    let bound = 1.0 / (fan_in as f32).sqrt();
    for value in weight.iter_mut().chain(bias.iter_mut()) {
        *value = rng.gen_range(-bound..=bound);
    }
}

/// A layer's stored gradients, which a backward pass writes.
pub(super) struct Gradients<'a> {
    /// `[C_out, C_in/groups, kh, kw]`.
    pub weight: &'a mut [f32],
    /// `[C_out]`, or empty without a bias.
    pub bias: &'a mut [f32],
}

/// Values of columns a chunk of examples may take: with the chunk's outputs, they stay in L2
/// while its products read them, instead of a whole batch's columns going out to memory and
/// back (an input of one channel has 25 columns per value under a 5 × 5 kernel).
const CHUNK_COLUMNS: usize = 1 << 15;

/// Output positions per example from which a chunk is one example: its product then writes
/// the example's outputs in PyTorch's order, `[C_out, P]`, with no rearranging, and is long
/// enough on its own to fill the kernels' tiles.
const ONE_EXAMPLE: usize = 128;

/// Positions of a chunk from which its weight gradient is dot products of rows, `m` long: a
/// few registers each, at least.
const DOT_PRODUCTS: usize = 32;

/// Multiply-adds of a pass from which its chunks are shared with a second thread: below, waking
/// it costs more than it saves.
const PARALLEL_MIN: usize = 1 << 18;

impl Shape {
    /// The output, `rows` rows of `C_out·P` values, of `rows` rows of `input` (`C_in·H·W`
    /// values): chunk by chunk of examples, per group, `W·columns` on the kernels' matrix
    /// product, with each channel's bias. See [`Conv1d::forward`](super::Conv1d::forward).
    pub(super) fn forward(
        &self,
        weight: &[f32],
        bias: Option<&[f32]>,
        rows: usize,
        input: &[f32],
        output: &mut [f32],
        workspace: &mut [f32],
    ) -> Result<()> {
        let input = rows_of(input, rows, self.input_width)?;
        let output = rows_of_mut(output, rows, self.output_width)?;
        let plan = self.plan(rows, workspace)?;
        let chunk = plan.chunk;
        plan.for_each_chunk(self, (output, self.output_width), &|task, output, parts| {
            let input = &input[task * chunk * self.input_width..];
            self.forward_chunk(weight, bias, input, output, parts);
        });
        Ok(())
    }

    /// [`Shape::forward`] of the examples whose outputs are `output`, with `input` from theirs.
    fn forward_chunk(
        &self,
        weight: &[f32],
        bias: Option<&[f32]>,
        input: &[f32],
        output: &mut [f32],
        Workspace { columns, products }: Workspace<'_>,
    ) {
        let examples = output.len() / self.output_width;
        columns::im2col(self, examples, input, columns);
        let m = examples * self.positions;
        // One example's products are its outputs in PyTorch's order; several examples' are
        // channel-major, and put in order afterwards.
        if examples == 1 {
            self.multiply(weight, columns, output, m);
            // After the product, as `write_outputs` adds it: an example's outputs do not depend
            // on how many others share its chunk.
            if let Some(bias) = bias {
                for (channel, &b) in output.chunks_exact_mut(m).zip(bias) {
                    for value in channel {
                        *value += b;
                    }
                }
            }
        } else {
            let products = &mut products[..self.spec.out_channels * m];
            self.multiply(weight, columns, products, m);
            columns::write_outputs(self, examples, products, bias, output);
        }
    }

    /// Writes or adds the gradients of the weight and the bias, given `input`, the rows the
    /// forward pass read, and `grad_output`: chunk by chunk of examples, per group,
    /// `dW += dz·columnsᵀ`, and `db += Σ dz` over every example and position. A batch of
    /// several chunks is summed in two halves, each into a part of the workspace, which are
    /// then added in order: the same sums on one thread or two. See
    /// [`Conv1d::backward_params`](super::Conv1d::backward_params).
    pub(super) fn backward_params(
        &self,
        gradients: Gradients<'_>,
        rows: usize,
        input: &[f32],
        grad_output: &[f32],
        workspace: &mut [f32],
        accumulate: bool,
    ) -> Result<()> {
        let input = rows_of(input, rows, self.input_width)?;
        let grad_output = rows_of(grad_output, rows, self.output_width)?;
        let plan = self.plan(rows, workspace)?;
        if !accumulate {
            // Also the gradient of no examples at all.
            gradients.weight.fill(0.0);
            gradients.bias.fill(0.0);
        }
        let chunk = plan.chunk;
        let sums_of_chunks = |chunks: std::ops::Range<usize>,
                              (weight_sums, bias_sums): (&mut [f32], &mut [f32]),
                              workspace: &mut [f32]| {
            for task in chunks {
                let input = &input[task * chunk * self.input_width..];
                let grad_output = &grad_output[task * chunk * self.output_width..];
                let examples = chunk.min(rows - task * chunk);
                let grad_output = &grad_output[..examples * self.output_width];
                let parts = self.parts(chunk, workspace);
                self.backward_params_chunk(input, grad_output, weight_sums, bias_sums, parts);
            }
        };
        if plan.tasks < 2 {
            // At most one chunk: its sums go straight into the gradients.
            let sums = (&mut *gradients.weight, &mut *gradients.bias);
            sums_of_chunks(0..plan.tasks, sums, plan.workers);
            return Ok(());
        }
        let half = plan.tasks.div_ceil(2);
        let sums_len = self.weights + self.spec.out_channels;
        kernel::share(
            2,
            (&mut *plan.sums, sums_len),
            (plan.workers, plan.per_worker),
            plan.parallel,
            &|part, sums, workspace| {
                sums.fill(0.0);
                let chunks = part * half..plan.tasks.min((part + 1) * half);
                sums_of_chunks(chunks, sums.split_at_mut(self.weights), workspace);
            },
        );
        let (first, second) = plan.sums.split_at(sums_len);
        let grads = gradients.weight.iter_mut().chain(gradients.bias.iter_mut());
        for ((grad, &a), &b) in grads.zip(first).zip(second) {
            *grad = *grad + a + b;
        }
        Ok(())
    }

    /// Adds to `weight_sums` and `bias_sums` the gradients of the examples whose output
    /// gradient is `grad_output`, with `input` from theirs.
    fn backward_params_chunk(
        &self,
        input: &[f32],
        grad_output: &[f32],
        weight_sums: &mut [f32],
        bias_sums: &mut [f32],
        Workspace { columns, products }: Workspace<'_>,
    ) {
        let examples = grad_output.len() / self.output_width;
        columns::im2col(self, examples, input, columns);
        let m = examples * self.positions;
        let grad = self.in_product_order(examples, grad_output, products);
        let (go, patch) = (self.group_outputs, self.patch);
        for g in 0..self.spec.groups {
            let grad = &grad[g * go * m..][..go * m];
            let columns = &columns[g * patch * m..][..patch * m];
            let sums = &mut weight_sums[g * go * patch..][..go * patch];
            // `dW += dz·columnsᵀ`: dot products of rows of both, each `m` long, unless they
            // are too short to fill registers; then the product, the columns read down.
            if m >= DOT_PRODUCTS {
                kernel::dot_products((go, patch, m), grad, columns, sums, true);
            } else {
                let columns = Operand::transposed(columns, m, patch);
                kernel::product(Operand::rows(grad, go, m), columns, sums, patch, true);
            }
        }
        // Each output channel's gradient is a row of the products.
        for (sum, channel) in bias_sums.iter_mut().zip(grad.chunks_exact(m)) {
            *sum += columns::sum(channel);
        }
    }

    /// The gradient of the loss with respect to the input, `rows` rows of `C_in·H·W` values,
    /// written to `grad_input`, from `grad_output`: chunk by chunk of examples, per group,
    /// `dcolumns = Wᵀ·dz`, then each column's values added back onto the inputs they were read
    /// from (col2im). See [`Conv1d::backward_input`](super::Conv1d::backward_input).
    pub(super) fn backward_input(
        &self,
        weight: &[f32],
        rows: usize,
        grad_output: &[f32],
        grad_input: &mut [f32],
        workspace: &mut [f32],
    ) -> Result<()> {
        let grad_output = rows_of(grad_output, rows, self.output_width)?;
        let grad_input = rows_of_mut(grad_input, rows, self.input_width)?;
        let plan = self.plan(rows, workspace)?;
        let chunk = plan.chunk;
        plan.for_each_chunk(
            self,
            (grad_input, self.input_width),
            &|task, grad_input, parts| {
                let grad_output = &grad_output[task * chunk * self.output_width..];
                self.backward_input_chunk(weight, grad_output, grad_input, parts);
            },
        );
        Ok(())
    }

    /// [`Shape::backward_input`] of the examples whose input gradient is `grad_input`, with
    /// `grad_output` from theirs.
    fn backward_input_chunk(
        &self,
        weight: &[f32],
        grad_output: &[f32],
        grad_input: &mut [f32],
        Workspace { columns, products }: Workspace<'_>,
    ) {
        let examples = grad_input.len() / self.input_width;
        let m = examples * self.positions;
        let grad_output = &grad_output[..examples * self.output_width];
        let grad = self.in_product_order(examples, grad_output, products);
        let (go, patch) = (self.group_outputs, self.patch);
        for g in 0..self.spec.groups {
            let filters = &weight[g * go * patch..][..go * patch];
            // `dcolumns = Wᵀ·dz`, the filters read down.
            kernel::product(
                Operand::transposed(filters, patch, go),
                Operand::rows(&grad[g * go * m..][..go * m], go, m),
                &mut columns[g * patch * m..][..patch * m],
                m,
                false,
            );
        }
        columns::col2im(self, examples, columns, grad_input);
    }

    /// `examples` rows of an output gradient, `grad_output`, in the products' channel-major
    /// order: as they are for one example, else rearranged into `products`.
    fn in_product_order<'a>(
        &self,
        examples: usize,
        grad_output: &'a [f32],
        products: &'a mut [f32],
    ) -> &'a [f32] {
        if examples == 1 {
            return grad_output;
        }
        let products = &mut products[..self.spec.out_channels * examples * self.positions];
        columns::read_outputs(self, examples, grad_output, products);
        products
    }

    /// `outputs = W·columns` for every group: `columns` the chunk's `patch × m` per group,
    /// `outputs` its `C_out/groups × m` per group.
    fn multiply(&self, weight: &[f32], columns: &[f32], outputs: &mut [f32], m: usize) {
        let (go, patch) = (self.group_outputs, self.patch);
        for g in 0..self.spec.groups {
            kernel::product(
                Operand::rows(&weight[g * go * patch..][..go * patch], go, patch),
                Operand::rows(&columns[g * patch * m..][..patch * m], patch, m),
                &mut outputs[g * go * m..][..go * m],
                m,
                false,
            );
        }
    }

    /// Examples per chunk of a pass over `rows` rows, and the number of chunks. A chunk is one
    /// example if examples have many positions ([`ONE_EXAMPLE`]); else it has at most as many
    /// as keep its columns within [`CHUNK_COLUMNS`], the chunks all about the same size, so
    /// that two threads share them evenly.
    pub(super) fn chunks(&self, rows: usize) -> (usize, usize) {
        if rows == 0 {
            return (1, 0);
        }
        let most = if self.positions >= ONE_EXAMPLE {
            1
        } else {
            let per_example = self.positions * self.patch * self.spec.groups;
            (CHUNK_COLUMNS / per_example.max(1)).max(1)
        };
        // A pass large enough to share has at least two chunks, one for each thread.
        let count = rows
            .div_ceil(most)
            .max(if self.is_parallel(rows) { 2 } else { 1 });
        let count = count.min(rows);
        (rows.div_ceil(count), count)
    }

    /// Whether a pass over `rows` rows is large enough to share with a second thread.
    fn is_parallel(&self, rows: usize) -> bool {
        let multiply_adds = rows
            .saturating_mul(self.positions)
            .saturating_mul(self.patch)
            .saturating_mul(self.spec.out_channels);
        multiply_adds >= PARALLEL_MIN
    }

    /// How a pass over `rows` rows runs, with `workspace` checked to be long enough and cut
    /// into its parts.
    fn plan<'a>(&self, rows: usize, workspace: &'a mut [f32]) -> Result<Plan<'a>> {
        let needed = self.workspace_len(rows)?;
        let found = workspace.len();
        let workspace = workspace.get_mut(..needed).ok_or(Error::Workspace {
            rows,
            needed,
            found,
        })?;
        let (chunk, tasks) = self.chunks(rows);
        let per_worker = chunk * self.positions * self.per_position;
        let workers = if tasks >= 2 { 2 } else { 1 };
        let (workers_part, sums) = workspace.split_at_mut((per_worker * workers).min(needed));
        Ok(Plan {
            chunk,
            tasks,
            per_worker,
            workers: workers_part,
            sums,
            parallel: self.is_parallel(rows),
        })
    }

    /// One chunk's parts of a worker's workspace.
    fn parts<'a>(&self, chunk: usize, workspace: &'a mut [f32]) -> Workspace<'a> {
        let m = chunk * self.positions;
        let (columns, products) = workspace.split_at_mut(m * self.patch * self.spec.groups);
        Workspace { columns, products }
    }
}

impl Plan<'_> {
    /// Runs `work(chunk, written, parts)` for every chunk, on both threads if the pass is large:
    /// `written` is the chunk's rows of `rows` (`width` values each), the rows the chunk writes,
    /// and `parts` the running thread's workspace for it.
    fn for_each_chunk(
        self,
        shape: &Shape,
        (rows, width): (&mut [f32], usize),
        work: &(dyn Fn(usize, &mut [f32], Workspace<'_>) + Sync),
    ) {
        let chunk = self.chunk;
        kernel::share(
            self.tasks,
            (rows, chunk * width),
            (self.workers, self.per_worker),
            self.parallel,
            &|task, written, workspace| work(task, written, shape.parts(chunk, workspace)),
        );
    }
}

/// How a pass runs: its chunks, and its workspace's parts.
struct Plan<'a> {
    /// Examples per chunk (the last may have fewer).
    chunk: usize,
    /// Chunks.
    tasks: usize,
    /// Values of workspace each thread needs for one chunk.
    per_worker: usize,
    /// One `per_worker` part for each thread, two if there are several chunks.
    workers: &'a mut [f32],
    /// With several chunks, room for two halves' weight and bias gradients.
    sums: &'a mut [f32],
    /// Whether the pass is large enough to share with a second thread.
    parallel: bool,
}

/// The parts of a pass's workspace, for one chunk of examples.
struct Workspace<'a> {
    /// Every group's columns, `groups × patch × chunk·P`, or their gradient.
    columns: &'a mut [f32],
    /// Every group's outputs, `C_out × chunk·P`, or their gradient, when the chunk has several
    /// examples.
    products: &'a mut [f32],
}
