// Rotary position embedding fused with the KV-cache append, one dispatch where four were.
// qkv holds, per token, the fused Q/K/V projection: q (n_heads, head_dim), then k and v
// (n_kv_heads, head_dim each). q is written rotated to `q` (n_tokens, n_heads, head_dim); k
// and v to rows position .. position + n_tokens - 1 of k_cache (rotated) and v_cache (as
// they are). Token t sits at position `position + t`. Each thread owns one pair
// of dimensions of one head and rotates it by angle (position + t) * theta^(-2i/d).
// rope_to_cache_interleaved pairs (2i, 2i + 1): llama.cpp's NORM mode, what GGUF llama
// weights expect. rope_to_cache_neox pairs (i, i + head_dim / 2): NEOX mode (qwen2).
// The `_scaled` entry points divide pair i's frequency by freq_factors[i] (Llama 3.1+'s
// rope_freqs.weight). The `_normed` ones first RMS-normalize each head of q and k (qwen3):
// x / sqrt(mean(x^2) + eps) * q_norm (k_norm), every thread summing its own head's squares
// (a head is at most 256 values), so no barrier is needed; only they read `eps`.
// Dispatch (ceil(n_heads * head_dim / 2 / 64), n_tokens, 1); n_kv_heads <= n_heads.

struct Params {
    n_tokens: u32,
    n_heads: u32,
    n_kv_heads: u32,
    head_dim: u32,
    position: u32,
    theta: f32,
    eps: f32,
}

@group(0) @binding(0) var<storage, read> qkv: array<f32>;
@group(0) @binding(1) var<storage, read_write> q: array<f32>;
@group(0) @binding(2) var<storage, read_write> k_cache: array<f32>;
@group(0) @binding(3) var<storage, read_write> v_cache: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;
@group(0) @binding(5) var<storage, read> freq_factors: array<f32>;
@group(0) @binding(6) var<storage, read> q_norm: array<f32>;
@group(0) @binding(7) var<storage, read> k_norm: array<f32>;

// How a pair is adjusted: its frequency divided by frequency_factor; with normed, its head
// scaled to unit RMS and its two values multiplied by their norm weights in q_norm
// (q_weights) and in k_norm (k_weights).
struct PairScaling {
    frequency_factor: f32,
    normed: bool,
    q_weights: vec2<f32>,
    k_weights: vec2<f32>,
}

fn rotated(a: f32, b: f32, angle: f32) -> vec2<f32> {
    let c = cos(angle);
    let s = sin(angle);
    return vec2<f32>(a * c - b * s, a * s + b * c);
}

// 1 / sqrt(mean square + eps) of the head_dim values from `start`.
fn head_scale(start: u32) -> f32 {
    var sum = 0.0;
    for (var d = 0u; d < params.head_dim; d++) {
        sum += qkv[start + d] * qkv[start + d];
    }
    return inverseSqrt(sum / f32(params.head_dim) + params.eps);
}

// The pair (first, second) of the head row at `start`; normed: times the head's scale and
// the weights of its two dimensions.
fn pair_values(start: u32, first: u32, second: u32, normed: bool, weights: vec2<f32>) -> vec2<f32> {
    let values = vec2<f32>(qkv[start + first], qkv[start + second]);
    if (!normed) {
        return values;
    }
    return values * head_scale(start) * weights;
}

fn pair_offsets(pair: u32, interleaved: bool) -> vec2<u32> {
    let half_dim = params.head_dim / 2u;
    let i = pair % half_dim;
    let first = select(i, 2u * i, interleaved);  // the pair's offsets inside a head
    return vec2<u32>(first, select(first + half_dim, first + 1u, interleaved));
}

fn rope_to_cache(token: u32, pair: u32, interleaved: bool, scaling: PairScaling) {
    let half_dim = params.head_dim / 2u;
    let head = pair / half_dim;
    let i = pair % half_dim;
    let offsets = pair_offsets(pair, interleaved);
    let first = offsets.x;
    let second = offsets.y;
    let inverse_frequency = exp2(-f32(2u * i) / f32(params.head_dim) * log2(params.theta))
        / scaling.frequency_factor;
    let angle = f32(params.position + token) * inverse_frequency;
    let q_size = params.n_heads * params.head_dim;
    let kv_size = params.n_kv_heads * params.head_dim;
    let row = token * (q_size + 2u * kv_size);  // the token's qkv row
    if (head < params.n_heads) {
        let q_source = row + head * params.head_dim;
        let q_at = (token * params.n_heads + head) * params.head_dim;
        let q_values = pair_values(q_source, first, second, scaling.normed, scaling.q_weights);
        let q_pair = rotated(q_values.x, q_values.y, angle);
        q[q_at + first] = q_pair.x;
        q[q_at + second] = q_pair.y;
    }
    if (head < params.n_kv_heads) {
        let k_source = row + q_size + head * params.head_dim;
        let v_source = k_source + kv_size;
        let cached = ((params.position + token) * params.n_kv_heads + head) * params.head_dim;
        let k_values = pair_values(k_source, first, second, scaling.normed, scaling.k_weights);
        let k_pair = rotated(k_values.x, k_values.y, angle);
        k_cache[cached + first] = k_pair.x;
        k_cache[cached + second] = k_pair.y;
        v_cache[cached + first] = qkv[v_source + first];
        v_cache[cached + second] = qkv[v_source + second];
    }
}

const PLAIN = PairScaling(1.0, false, vec2<f32>(1.0), vec2<f32>(1.0));

fn scaled(pair: u32) -> PairScaling {
    let factor = freq_factors[pair % (params.head_dim / 2u)];
    return PairScaling(factor, false, vec2<f32>(1.0), vec2<f32>(1.0));
}

fn normed(pair: u32, interleaved: bool) -> PairScaling {
    let offsets = pair_offsets(pair, interleaved);
    let q_weights = vec2<f32>(q_norm[offsets.x], q_norm[offsets.y]);
    return PairScaling(1.0, true, q_weights, vec2<f32>(k_norm[offsets.x], k_norm[offsets.y]));
}

@compute @workgroup_size(64)
fn rope_to_cache_interleaved(@builtin(global_invocation_id) id: vec3<u32>) {
    rope_to_cache(id.y, id.x, true, PLAIN);
}

@compute @workgroup_size(64)
fn rope_to_cache_neox(@builtin(global_invocation_id) id: vec3<u32>) {
    rope_to_cache(id.y, id.x, false, PLAIN);
}

@compute @workgroup_size(64)
fn rope_to_cache_interleaved_scaled(@builtin(global_invocation_id) id: vec3<u32>) {
    rope_to_cache(id.y, id.x, true, scaled(id.x));
}

@compute @workgroup_size(64)
fn rope_to_cache_neox_scaled(@builtin(global_invocation_id) id: vec3<u32>) {
    rope_to_cache(id.y, id.x, false, scaled(id.x));
}

@compute @workgroup_size(64)
fn rope_to_cache_interleaved_normed(@builtin(global_invocation_id) id: vec3<u32>) {
    rope_to_cache(id.y, id.x, true, normed(id.x, true));
}

@compute @workgroup_size(64)
fn rope_to_cache_neox_normed(@builtin(global_invocation_id) id: vec3<u32>) {
    rope_to_cache(id.y, id.x, false, normed(id.x, false));
}
