// The input of a matrix-vector product normalized on the fly, replacing matvec_input.wgsl:
// rms_norm(x) = x * norm_weight / sqrt(mean(x^2) + eps), so out = (W (x * norm_weight)) *
// inverse_rms. The one-token decode reads a norm's output only in the next product: folding
// the norm into it saves a dispatch, and each workgroup (each invocation of the `rows`
// variant) sums x's squares itself (x is one hidden state, a few hundred values).

struct Params {
    n_in: u32,
    n_out: u32,
    eps: f32,
}

@group(0) @binding(4) var<storage, read> norm_weight: array<vec4<f32>>;

const NORMALIZES_INPUT: bool = true;

// Input values index .. index + 3 (index a multiple of 4), times their norm weights.
fn input4(index: u32) -> vec4<f32> {
    return x[index / 4u] * norm_weight[index / 4u];
}

// 1 / rms(x), the factor every output is scaled by, given the sum of x's squares.
fn input_scale(sum_of_squares: f32) -> f32 {
    return inverseSqrt(sum_of_squares / f32(params.n_in) + params.eps);
}
