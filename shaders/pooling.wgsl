// Mean pooling of hidden (n_tokens, n) over the tokens whose mask is 1 (mask: n_tokens
// floats, 0 or 1); one thread per column. The divisor is clamped at 1e-9 as
// sentence-transformers does, so an all-zero mask gives zeros, not NaN.

struct Params {
    n_tokens: u32,
    n: u32,
}

@group(0) @binding(0) var<storage, read> hidden: array<f32>;
@group(0) @binding(1) var<storage, read> mask: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(64)
fn mean_pool(@builtin(global_invocation_id) id: vec3<u32>) {
    let column = id.x;
    if (column >= params.n) {
        return;
    }
    var sum = 0.0;
    var count = 0.0;
    for (var t = 0u; t < params.n_tokens; t++) {
        sum += hidden[t * params.n + column] * mask[t];
        count += mask[t];
    }
    out[column] = sum / max(count, 1e-9);
}
