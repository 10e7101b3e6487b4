// Adds a bias to each of the n logits in place, before top_k and sampling choose from them:
// the decoder's `logit_bias` buffer, which makes chosen tokens likelier (or less likely). One
// thread per logit. A zero bias writes nothing, so an unbiased step's logits stay bit for bit
// what the product left (-0.0 included), and only biased logits cost a write.

struct Params {
    n: u32,
}

@group(0) @binding(0) var<storage, read_write> logits: array<f32>;
@group(0) @binding(1) var<storage, read> bias: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(256)
fn add_logit_bias(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x < params.n) {
        let value = bias[id.x];
        if (value != 0.0) {
            logits[id.x] += value;
        }
    }
}
