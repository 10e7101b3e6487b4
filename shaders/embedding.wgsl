// Embedding lookup: out (n_tokens, n_embd) = rows ids[t] of the table (vocab, n_embd) in
// any weights_<format>.wgsl layout. One thread per group of 8 values of one token.
// The rows are multiplied by `scale` (Gemma's sqrt(n_embd); 1 for the others).

struct Params {
    n_embd: u32,
    n_tokens: u32,
    scale: f32,
}

@group(0) @binding(0) var<storage, read> weights: array<u32>;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(64)
fn embedding(@builtin(global_invocation_id) id: vec3<u32>) {
    let group = id.x;
    let token = id.y;
    if (group >= params.n_embd / VALUES_PER_GROUP || token >= params.n_tokens) {
        return;
    }
    let w = weight_group(ids[token] * row_bytes(params.n_embd), group);
    let base = token * params.n_embd;
    for (var i = 0u; i < 4u; i++) {
        out[base + w.lo_index + i] = w.lo[i] * params.scale;
        out[base + w.hi_index + i] = w.hi[i] * params.scale;
    }
}
