// Row normalisations; one workgroup of REDUCE_THREADS threads per row of n values (source:
// reduce.wgsl, 256 threads, or reduce_single.wgsl, one thread, on CPU adapters; then this file).
// rms_norm: x / sqrt(mean(x^2) + eps) * weight; rms_norm_accumulate adds that to `out`
// (Gemma's norm of a block's output, joining the residual). layer_norm: (x - mean) /
// sqrt(var + eps) * weight + bias. l2_normalize: x / max(|x|, eps) (torch's normalize uses
// eps = 1e-12).

struct Params {
    n_rows: u32,
    n: u32,
    eps: f32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

fn row_sum_of_squares(base: u32, thread: u32, center: f32) -> f32 {
    var sum = 0.0;
    for (var i = thread; i < params.n; i += REDUCE_THREADS) {
        let centered = x[base + i] - center;
        sum += centered * centered;
    }
    return workgroup_sum(thread, sum);
}

// The row's RMS norm written to `out`, or added to it.
fn rms_norm_row(row: u32, thread: u32, accumulate: bool) {
    let base = row * params.n;
    let mean_square = row_sum_of_squares(base, thread, 0.0) / f32(params.n);
    let scale = inverseSqrt(mean_square + params.eps);
    for (var i = thread; i < params.n; i += REDUCE_THREADS) {
        let normed = x[base + i] * scale * weight[i];
        out[base + i] = select(normed, out[base + i] + normed, accumulate);
    }
}

@compute @workgroup_size(REDUCE_THREADS)
fn rms_norm(@builtin(workgroup_id) workgroup: vec3<u32>,
            @builtin(local_invocation_index) thread: u32) {
    rms_norm_row(workgroup.x, thread, false);
}

@compute @workgroup_size(REDUCE_THREADS)
fn rms_norm_accumulate(@builtin(workgroup_id) workgroup: vec3<u32>,
                       @builtin(local_invocation_index) thread: u32) {
    rms_norm_row(workgroup.x, thread, true);
}

@compute @workgroup_size(REDUCE_THREADS)
fn layer_norm(@builtin(workgroup_id) workgroup: vec3<u32>,
              @builtin(local_invocation_index) thread: u32) {
    let base = workgroup.x * params.n;
    // Summed around the row's first value, so a large common offset loses no precision
    // (one thread summing a whole row in order would otherwise).
    let shift = x[base];
    var sum = 0.0;
    for (var i = thread; i < params.n; i += REDUCE_THREADS) {
        sum += x[base + i] - shift;
    }
    let mean = shift + workgroup_sum(thread, sum) / f32(params.n);
    // Two passes (mean, then squared deviations) avoid E[x^2] - E[x]^2 cancellation.
    let variance = row_sum_of_squares(base, thread, mean) / f32(params.n);
    let scale = inverseSqrt(variance + params.eps);
    for (var i = thread; i < params.n; i += REDUCE_THREADS) {
        out[base + i] = (x[base + i] - mean) * scale * weight[i] + bias[i];
    }
}

@compute @workgroup_size(REDUCE_THREADS)
fn l2_normalize(@builtin(workgroup_id) workgroup: vec3<u32>,
                @builtin(local_invocation_index) thread: u32) {
    let base = workgroup.x * params.n;
    let scale = 1.0 / max(sqrt(row_sum_of_squares(base, thread, 0.0)), params.eps);
    for (var i = thread; i < params.n; i += REDUCE_THREADS) {
        out[base + i] = x[base + i] * scale;
    }
}
