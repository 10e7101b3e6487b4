// Barrier-free variant of attention.wgsl (placed after it in the kernel source) for CPU
// adapters such as SwiftShader and lavapipe: one invocation per (head, query) walks the
// visible keys once with an online softmax (running maximum and sum, the output rescaled
// when the maximum grows), so there is no workgroup memory, no barrier and no MAX_KEYS.
// Neighbouring invocations are neighbouring queries of one head: they read the same keys.
// head_dim is a multiple of 4. Dispatch (n_heads, ceil(n_tokens / 16), 1).

const QUERIES_PER_WORKGROUP: u32 = 16u;

// attention.wgsl declares k and v as vec4s.
fn vec4_at(values_base: u32, kind: u32, index: u32) -> vec4<f32> {
    let i = values_base / 4u + index;
    if (kind == 0u) {
        return k[i];
    }
    return v[i];
}

fn attend_rows(head: u32, token: u32, first_key: u32, key_count: u32, query_index: u32) {
    let kv_head = head / (params.n_heads / params.n_kv_heads);
    let quads = params.head_dim / 4u;
    let q_base = (token * params.n_heads + head) * params.head_dim;
    var visible = key_count;
    if (params.causal != 0u) {
        visible = min(visible, query_index + params.causal_offset + 1u);
    }
    var query: array<vec4<f32>, 64>;
    var acc: array<vec4<f32>, 64>;
    let scale = inverseSqrt(f32(params.head_dim));
    for (var i = 0u; i < quads; i++) {
        let at = q_base + 4u * i;
        query[i] = vec4<f32>(q[at], q[at + 1u], q[at + 2u], q[at + 3u]) * scale;
        acc[i] = vec4<f32>(0.0);
    }
    var largest = -3.4e38;
    var sum = 0.0;
    for (var j = 0u; j < visible; j++) {
        let kv_base = ((first_key + j) * params.n_kv_heads + kv_head) * params.head_dim;
        var score = 0.0;
        for (var i = 0u; i < quads; i++) {
            score += dot(query[i], vec4_at(kv_base, 0u, i));
        }
        let new_largest = max(largest, score);
        let rescale = exp(largest - new_largest);
        let weight = exp(score - new_largest);
        sum = sum * rescale + weight;
        for (var i = 0u; i < quads; i++) {
            acc[i] = acc[i] * rescale + weight * vec4_at(kv_base, 1u, i);
        }
        largest = new_largest;
    }
    let inverse_sum = 1.0 / sum;
    for (var i = 0u; i < quads; i++) {
        let value = acc[i] * inverse_sum;
        let at = q_base + 4u * i;
        out[at] = value.x;
        out[at + 1u] = value.y;
        out[at + 2u] = value.z;
        out[at + 3u] = value.w;
    }
}

@compute @workgroup_size(16)
fn attention_rows(@builtin(workgroup_id) workgroup: vec3<u32>,
                  @builtin(local_invocation_index) lane: u32) {
    let token = workgroup.y * QUERIES_PER_WORKGROUP + lane;
    if (token < params.n_tokens) {
        let keys = visible_keys(token);
        attend_rows(workgroup.x, token, keys.x, keys.y, token);
    }
}

@compute @workgroup_size(16)
fn attention_packed_rows(@builtin(workgroup_id) workgroup: vec3<u32>,
                         @builtin(local_invocation_index) lane: u32) {
    let token = workgroup.y * QUERIES_PER_WORKGROUP + lane;
    if (token < params.n_tokens) {
        let first_key = spans[2u * token];
        attend_rows(workgroup.x, token, first_key, spans[2u * token + 1u], token - first_key);
    }
}
