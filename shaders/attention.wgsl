// Scaled dot-product attention with grouped-query heads, for decode (n_tokens = 1 over the
// KV cache) and prefill (n_tokens queries). q (n_tokens, n_heads, head_dim); k, v
// (kv_len, n_kv_heads, head_dim); out like q. With causal = 1, query t sees keys
// j <= t + causal_offset (causal_offset = cached positions before the first query).
// One workgroup of 256 threads per (head, query); scores live in workgroup memory, so at
// most MAX_KEYS keys, and head_dim <= 256 (source: reduce.wgsl then this file).

struct Params {
    n_tokens: u32,
    n_heads: u32,
    n_kv_heads: u32,
    head_dim: u32,
    kv_len: u32,
    causal: u32,
    causal_offset: u32,
}

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

const MAX_KEYS: u32 = 2048u;
const MAX_HEAD_DIM: u32 = REDUCE_THREADS;
var<workgroup> scores: array<f32, MAX_KEYS>;
var<workgroup> query: array<f32, MAX_HEAD_DIM>;
var<workgroup> partial_outputs: array<f32, REDUCE_THREADS>;

@compute @workgroup_size(256)
fn attention(@builtin(workgroup_id) workgroup: vec3<u32>,
             @builtin(local_invocation_index) thread: u32) {
    let head = workgroup.x;
    let token = workgroup.y;
    let kv_head = head / (params.n_heads / params.n_kv_heads);
    let d = params.head_dim;
    let q_base = (token * params.n_heads + head) * d;
    var visible = min(params.kv_len, MAX_KEYS);
    if (params.causal != 0u) {
        visible = min(visible, token + params.causal_offset + 1u);
    }
    if (thread < d) {
        query[thread] = q[q_base + thread] * inverseSqrt(f32(d));
    }
    workgroupBarrier();

    // Scores, one key per thread.
    var largest = -3.4e38;
    for (var j = thread; j < visible; j += REDUCE_THREADS) {
        let k_base = (j * params.n_kv_heads + kv_head) * d;
        var score = 0.0;
        for (var i = 0u; i < d; i++) {
            score += query[i] * k[k_base + i];
        }
        scores[j] = score;
        largest = max(largest, score);
    }
    largest = workgroup_max(thread, largest);
    var sum = 0.0;
    for (var j = thread; j < visible; j += REDUCE_THREADS) {
        scores[j] = exp(scores[j] - largest);
        sum += scores[j];
    }
    let inverse_sum = 1.0 / workgroup_sum(thread, sum);  // its barriers publish `scores`

    // Weighted values: thread = (key slice, dimension), so every thread works even for
    // short head dimensions; then the key slices of each dimension are summed.
    let slices = REDUCE_THREADS / d;
    let dimension = thread % d;
    let slice = thread / d;
    var acc = 0.0;
    if (slice < slices) {
        for (var j = slice; j < visible; j += slices) {
            acc += scores[j] * v[(j * params.n_kv_heads + kv_head) * d + dimension];
        }
    }
    partial_outputs[thread] = acc;
    workgroupBarrier();
    if (thread < d) {
        var total = 0.0;
        for (var s = 0u; s < slices; s++) {
            total += partial_outputs[s * d + thread];
        }
        out[q_base + thread] = total * inverse_sum;
    }
}
