// Rotary position embedding fused with the KV-cache append, one dispatch where four were.
// qkv holds, per token, the fused Q/K/V projection: q (n_heads, head_dim), then k and v
// (n_kv_heads, head_dim each). q is written rotated to `q` (n_tokens, n_heads, head_dim); k
// and v to rows position .. position + n_tokens - 1 of k_cache (rotated) and v_cache (as
// they are). Token t sits at position `position + t`. Each thread owns one pair
// of dimensions of one head and rotates it by angle (position + t) * theta^(-2i/d).
// rope_to_cache_interleaved pairs (2i, 2i + 1): llama.cpp's NORM mode, what GGUF llama
// weights expect. rope_to_cache_neox pairs (i, i + head_dim / 2): NEOX mode (qwen2).
// Dispatch (ceil(n_heads * head_dim / 2 / 64), n_tokens, 1); n_kv_heads <= n_heads.

struct Params {
    n_tokens: u32,
    n_heads: u32,
    n_kv_heads: u32,
    head_dim: u32,
    position: u32,
    theta: f32,
}

@group(0) @binding(0) var<storage, read> qkv: array<f32>;
@group(0) @binding(1) var<storage, read_write> q: array<f32>;
@group(0) @binding(2) var<storage, read_write> k_cache: array<f32>;
@group(0) @binding(3) var<storage, read_write> v_cache: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

fn rotated(a: f32, b: f32, angle: f32) -> vec2<f32> {
    let c = cos(angle);
    let s = sin(angle);
    return vec2<f32>(a * c - b * s, a * s + b * c);
}

fn rope_to_cache(token: u32, pair: u32, interleaved: bool) {
    let half_dim = params.head_dim / 2u;
    let head = pair / half_dim;
    let i = pair % half_dim;
    let first = select(i, 2u * i, interleaved);  // the pair's offsets inside a head
    let second = select(first + half_dim, first + 1u, interleaved);
    let inverse_frequency = exp2(-f32(2u * i) / f32(params.head_dim) * log2(params.theta));
    let angle = f32(params.position + token) * inverse_frequency;
    let q_size = params.n_heads * params.head_dim;
    let kv_size = params.n_kv_heads * params.head_dim;
    let row = token * (q_size + 2u * kv_size);  // the token's qkv row
    if (head < params.n_heads) {
        let q_source = row + head * params.head_dim;
        let q_at = (token * params.n_heads + head) * params.head_dim;
        let q_pair = rotated(qkv[q_source + first], qkv[q_source + second], angle);
        q[q_at + first] = q_pair.x;
        q[q_at + second] = q_pair.y;
    }
    if (head < params.n_kv_heads) {
        let k_source = row + q_size + head * params.head_dim;
        let v_source = k_source + kv_size;
        let cached = ((params.position + token) * params.n_kv_heads + head) * params.head_dim;
        let k_pair = rotated(qkv[k_source + first], qkv[k_source + second], angle);
        k_cache[cached + first] = k_pair.x;
        k_cache[cached + second] = k_pair.y;
        v_cache[cached + first] = qkv[v_source + first];
        v_cache[cached + second] = qkv[v_source + second];
    }
}

@compute @workgroup_size(64)
fn rope_to_cache_interleaved(@builtin(global_invocation_id) id: vec3<u32>) {
    rope_to_cache(id.y, id.x, true);
}

@compute @workgroup_size(64)
fn rope_to_cache_neox(@builtin(global_invocation_id) id: vec3<u32>) {
    rope_to_cache(id.y, id.x, false);
}
