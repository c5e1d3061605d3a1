//! A residual connection's sum, `x + chain(x)`, and its gradient: the sum's gradient goes whole
//! to both of its inputs, so the skip connection adds it to the gradient its input gets
//! through the chain.

// Plain loops: a sum reads and writes memory once per value, which any instruction set does
// at the speed of memory.

/// `output = skip + branch`, value by value, as PyTorch's `x + f(x)`.
pub fn add_rows(skip: &[f32], branch: &[f32], output: &mut [f32]) {
    for ((out, &a), &b) in output.iter_mut().zip(skip).zip(branch) {
        *out = a + b;
    }
}

/// `grad += sum`, value by value: the gradient a residual sum passes back along its skip
/// connection, added to what its input's other reader gave.
pub fn add_assign_rows(grad: &mut [f32], sum: &[f32]) {
    for (g, &s) in grad.iter_mut().zip(sum) {
        *g += s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_add_value_by_value() {
        let mut output = [0.0; 3];
        add_rows(&[1.0, 2.0, 3.0], &[0.5, -2.0, 1e-8], &mut output);
        assert_eq!(output, [1.5, 0.0, 3.0]);
        let mut grad = [1.0, 1.0, 1.0];
        add_assign_rows(&mut grad, &[0.25, -1.0, 2.0]);
        assert_eq!(grad, [1.25, 0.0, 3.0]);
    }
}
