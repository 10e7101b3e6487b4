// Barrier-free matrix-vector product for CPU adapters such as SwiftShader and lavapipe, where
// workgroup barriers cost more than the arithmetic; it replaces matvec.wgsl in the kernel
// source (same bindings and input file, x read as vec4s: one vec4 load costs a CPU adapter
// far less than four scalar ones). One invocation per output row walks all of the row's
// groups (both rows, gate and up, for matvec_swiglu), so there is no reduction.
// Dispatch ceil(n_out / 64) workgroups.

@group(0) @binding(0) var<storage, read> weights: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

// The dot product of W's `weight_row` with the input, times the input file's input_scale:
// the sum of x's squares is taken on the way (and dropped by the compiler where unused).
fn row_dot(weight_row: u32) -> f32 {
    let row_byte = weight_row * row_bytes(params.n_in);
    var sum = 0.0;
    var squares = 0.0;
    for (var group = 0u; group < params.n_in / VALUES_PER_GROUP; group++) {
        let w = weight_group(row_byte, group);
        let x_lo = x[w.lo_index / 4u];
        let x_hi = x[w.hi_index / 4u];
        sum += dot(w.lo, input4(w.lo_index)) + dot(w.hi, input4(w.hi_index));
        squares += dot(x_lo, x_lo) + dot(x_hi, x_hi);
    }
    return sum * input_scale(squares);
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
