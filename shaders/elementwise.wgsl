// Element-wise kernels over n values (at most 65535 * 256), one thread each; silu is in
// activations.wgsl. swiglu: a holds rows of 2 * row_len values, gate then up (the fused
// ffn_gate_up product); out, rows of row_len values, is silu(gate) * up; geglu likewise with
// the tanh form of GELU (Gemma's). gelu: the erf form of BERT. add: a + b. add_bias: a + b[i % row_len] (b is a bias of row_len values).

struct Params {
    n: u32,
    row_len: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read> b: array<f32>;

// erf by Abramowitz & Stegun 7.1.26: absolute error below 1.5e-7 for every x.
fn erf(value: f32) -> f32 {
    let z = abs(value);
    let t = 1.0 / (1.0 + 0.3275911 * z);
    let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741
        + t * (-1.453152027 + t * 1.061405429))));
    return sign(value) * (1.0 - poly * exp(-z * z));
}

@compute @workgroup_size(256)
fn swiglu(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x < params.n) {
        let gate = id.x / params.row_len * 2u * params.row_len + id.x % params.row_len;
        out[id.x] = silu(a[gate]) * a[gate + params.row_len];
    }
}

// GELU's tanh form: x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))); tanh as
// 1 - 2 / (exp(2u) + 1), which stays finite where WGSL's tanh may not for large |u|.
fn gelu_tanh(value: f32) -> f32 {
    let u = 0.7978845608028654 * (value + 0.044715 * value * value * value);
    return 0.5 * value * (2.0 - 2.0 / (exp(2.0 * u) + 1.0));
}

@compute @workgroup_size(256)
fn geglu(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x < params.n) {
        let gate = id.x / params.row_len * 2u * params.row_len + id.x % params.row_len;
        out[id.x] = gelu_tanh(a[gate]) * a[gate + params.row_len];
    }
}

@compute @workgroup_size(256)
fn gelu(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x < params.n) {
        let value = a[id.x];
        out[id.x] = 0.5 * value * (1.0 + erf(value * 0.7071067811865476));
    }
}

@compute @workgroup_size(256)
fn add(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x < params.n) {
        out[id.x] = a[id.x] + b[id.x];
    }
}

@compute @workgroup_size(256)
fn add_bias(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x < params.n) {
        out[id.x] = a[id.x] + b[id.x % params.row_len];
    }
}
