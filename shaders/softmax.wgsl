// Numerically stable softmax over each row of n values: exp(x - max) / sum. One workgroup
// of 256 threads per row (source: reduce.wgsl then this file).

struct Params {
    n_rows: u32,
    n: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(256)
fn softmax(@builtin(workgroup_id) workgroup: vec3<u32>,
           @builtin(local_invocation_index) thread: u32) {
    let base = workgroup.x * params.n;
    var largest = -3.4e38;
    for (var i = thread; i < params.n; i += REDUCE_THREADS) {
        largest = max(largest, x[base + i]);
    }
    largest = workgroup_max(thread, largest);
    var sum = 0.0;
    for (var i = thread; i < params.n; i += REDUCE_THREADS) {
        sum += exp(x[base + i] - largest);
    }
    let scale = 1.0 / workgroup_sum(thread, sum);
    for (var i = thread; i < params.n; i += REDUCE_THREADS) {
        out[base + i] = exp(x[base + i] - largest) * scale;
    }
}
