// Scaled dot-product attention with grouped-query heads, for decode (n_tokens = 1 over the
// KV cache) and prefill (n_tokens queries). q (n_tokens, n_heads, head_dim); k, v
// (kv_len, n_kv_heads, head_dim); out like q. With causal = 1, query t sees keys
// j <= t + causal_offset (causal_offset = cached positions before the first query).
// attention_packed runs sequences packed end to end (the embedder's batches): query t sees
// only the keys of its own sequence, spans[2t] .. spans[2t] + spans[2t + 1] - 1 (kv_len is
// not used; causal applies within the sequence). With window > 0, `attention` is causal over
// a sliding window: the query at position p sees keys p - window + 1 .. p (Gemma's local
// layers); attention_packed does not read it.
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
    window: u32,
}

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<vec4<f32>>;  // head_dim is a multiple of 4
@group(0) @binding(2) var<storage, read> v: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;
@group(0) @binding(5) var<storage, read> spans: array<u32>;

const MAX_KEYS: u32 = 2048u;
const MAX_HEAD_DIM: u32 = REDUCE_THREADS;
var<workgroup> scores: array<f32, MAX_KEYS>;
var<workgroup> query: array<vec4<f32>, MAX_HEAD_DIM / 4>;
var<workgroup> partial_outputs: array<vec4<f32>, REDUCE_THREADS>;

// Attention of query `token` (the query_index-th of its sequence) over keys first_key ..
// first_key + key_count - 1; every thread of the workgroup calls it.
fn attend(head: u32, token: u32, thread: u32, first_key: u32, key_count: u32, query_index: u32) {
    let kv_head = head / (params.n_heads / params.n_kv_heads);
    let d = params.head_dim;
    let q_base = (token * params.n_heads + head) * d;
    var visible = min(key_count, MAX_KEYS);
    if (params.causal != 0u) {
        visible = min(visible, query_index + params.causal_offset + 1u);
    }
    let quads = d / 4u;
    if (thread < quads) {
        let at = q_base + 4u * thread;
        query[thread] = vec4<f32>(q[at], q[at + 1u], q[at + 2u], q[at + 3u]) * inverseSqrt(f32(d));
    }
    workgroupBarrier();

    // Scores, one key per thread, read as vec4s: a quarter of the loads.
    var largest = -3.4e38;
    for (var j = thread; j < visible; j += REDUCE_THREADS) {
        let k_quad = ((first_key + j) * params.n_kv_heads + kv_head) * quads;
        var score = 0.0;
        for (var i = 0u; i < quads; i++) {
            score += dot(query[i], k[k_quad + i]);
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

    // Weighted values: thread = (key slice, 4 dimensions), so every thread works and each
    // reads vec4s; then the key slices of each 4 dimensions are summed.
    let slices = REDUCE_THREADS / quads;
    let quad = thread % quads;
    let slice = thread / quads;
    var acc = vec4<f32>(0.0);
    if (slice < slices) {
        for (var j = slice; j < visible; j += slices) {
            acc += scores[j] * v[((first_key + j) * params.n_kv_heads + kv_head) * quads + quad];
        }
    }
    partial_outputs[thread] = acc;
    workgroupBarrier();
    if (thread < quads) {
        var total = vec4<f32>(0.0);
        for (var s = 0u; s < slices; s++) {
            total += partial_outputs[s * quads + thread];
        }
        total *= inverse_sum;
        for (var c = 0u; c < 4u; c++) {
            out[q_base + 4u * thread + c] = total[c];
        }
    }
}

// The keys query `token` sees: (first key, count); a sliding window ends at its position.
fn visible_keys(token: u32) -> vec2<u32> {
    let position = token + params.causal_offset;
    if (params.window == 0u || position < params.window) {
        return vec2<u32>(0u, params.kv_len);
    }
    let first_key = position + 1u - params.window;
    return vec2<u32>(first_key, params.window);
}

@compute @workgroup_size(256)
fn attention(@builtin(workgroup_id) workgroup: vec3<u32>,
             @builtin(local_invocation_index) thread: u32) {
    let token = workgroup.y;
    let keys = visible_keys(token);
    attend(workgroup.x, token, thread, keys.x, keys.y, token);
}

@compute @workgroup_size(256)
fn attention_packed(@builtin(workgroup_id) workgroup: vec3<u32>,
                    @builtin(local_invocation_index) thread: u32) {
    let token = workgroup.y;
    let first_key = spans[2u * token];
    attend(workgroup.x, token, thread, first_key, spans[2u * token + 1u], token - first_key);
}
