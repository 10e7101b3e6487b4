// Barrier-free matrix-vector product for CPU adapters such as SwiftShader and lavapipe, where
// workgroup barriers cost more than the arithmetic; it replaces matvec.wgsl in the kernel
// source (same Params and bindings, x read as vec4s: every group's 4-value runs start at a
// multiple of 4, and one vec4 load costs a CPU adapter far less than four scalar ones).
// One invocation per output row walks all of the row's groups (both rows, gate and up, for
// matvec_swiglu), so there is no reduction.
// Dispatch ceil(n_out / 64) workgroups.

struct Params {
    n_in: u32,
    n_out: u32,
}

@group(0) @binding(0) var<storage, read> weights: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

// The dot product of W's `weight_row` with x.
fn row_dot(weight_row: u32) -> f32 {
    let row_byte = weight_row * row_bytes(params.n_in);
    var sum = 0.0;
    for (var group = 0u; group < params.n_in / VALUES_PER_GROUP; group++) {
        let w = weight_group(row_byte, group);
        sum += dot(w.lo, x[w.lo_index / 4u]) + dot(w.hi, x[w.hi_index / 4u]);
    }
    return sum;
}

@compute @workgroup_size(64)
fn matvec_rows(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x < params.n_out) {
        out[id.x] = row_dot(id.x);
    }
}

@compute @workgroup_size(64)
fn matvec_accumulate_rows(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x < params.n_out) {
        out[id.x] += row_dot(id.x);
    }
}

@compute @workgroup_size(64)
fn matvec_swiglu_rows(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x < params.n_out) {
        out[id.x] = silu(row_dot(id.x)) * row_dot(id.x + params.n_out);
    }
}
