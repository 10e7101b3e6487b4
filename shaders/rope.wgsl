// Rotary position embedding, in place on x (n_tokens, n_heads, head_dim); token t sits at
// position `position + t`. Each thread rotates one pair by angle position * theta^(-2i/d).
// rope_interleaved pairs (2i, 2i + 1): llama.cpp's NORM mode, what GGUF llama weights expect.
// rope_neox pairs (i, i + head_dim / 2): NEOX mode (qwen2, transformers).

struct Params {
    n_tokens: u32,
    n_heads: u32,
    head_dim: u32,
    position: u32,
    theta: f32,
}

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<uniform> params: Params;

fn rotate_pair(token: u32, pair: u32, interleaved: bool) {
    let half_dim = params.head_dim / 2u;
    if (pair >= params.n_heads * half_dim) {
        return;
    }
    let i = pair % half_dim;
    let head_base = (token * params.n_heads + pair / half_dim) * params.head_dim;
    let first = head_base + select(i, 2u * i, interleaved);
    let second = select(first + half_dim, first + 1u, interleaved);
    let inverse_frequency = exp2(-f32(2u * i) / f32(params.head_dim) * log2(params.theta));
    let angle = f32(params.position + token) * inverse_frequency;
    let c = cos(angle);
    let s = sin(angle);
    let a = x[first];
    let b = x[second];
    x[first] = a * c - b * s;
    x[second] = a * s + b * c;
}

@compute @workgroup_size(64)
fn rope_interleaved(@builtin(global_invocation_id) id: vec3<u32>) {
    rotate_pair(id.y, id.x, true);
}

@compute @workgroup_size(64)
fn rope_neox(@builtin(global_invocation_id) id: vec3<u32>) {
    rotate_pair(id.y, id.x, false);
}
