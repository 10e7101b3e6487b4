// Activation functions shared by the element-wise kernels and matvec_swiglu.

fn silu(value: f32) -> f32 {
    return value / (1.0 + exp(-value));
}
