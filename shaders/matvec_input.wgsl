// The input of a matrix-vector product (matvec.wgsl, matvec_rows.wgsl, placed before them):
// x itself. matvec_input_norm.wgsl replaces this file for the kernels that normalize it.

struct Params {
    n_in: u32,
    n_out: u32,
}

const NORMALIZES_INPUT: bool = false;

// Input values index .. index + 3 (index a multiple of 4).
fn input4(index: u32) -> vec4<f32> {
    return x[index / 4u];
}

// The factor every output is scaled by, given the sum of x's squares.
fn input_scale(sum_of_squares: f32) -> f32 {
    return 1.0;
}
