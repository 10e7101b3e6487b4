// Tokens the answer already wrote become less likely before the next sampled choice (run
// over the logits before top_k): positive logits divided by the penalty, negative ones
// multiplied, as pagemind.models.generate does. One thread per history entry; a token
// repeated in the history is penalized by its first entry only.

struct Params {
    n_history: u32,
    penalty: f32,
}

@group(0) @binding(0) var<storage, read> history: array<u32>;
@group(0) @binding(1) var<storage, read_write> logits: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(64)
fn penalize_repetition(@builtin(global_invocation_id) id: vec3<u32>) {
    let entry = id.x;
    if (entry >= params.n_history) {
        return;
    }
    let token = history[entry];
    for (var earlier = 0u; earlier < entry; earlier++) {
        if (history[earlier] == token) {
            return;
        }
    }
    let logit = logits[token];
    logits[token] = select(logit * params.penalty, logit / params.penalty, logit > 0.0);
}
