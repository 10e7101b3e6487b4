// Barrier-free variant of matvec.wgsl (placed after it in the kernel source) for CPU
// adapters such as SwiftShader and lavapipe, where workgroup barriers cost more than the
// arithmetic: one invocation per output row walks all of the row's groups, so there is no
// reduction. Dispatch ceil(n_out / 64) workgroups.

fn row_dot(row: u32) -> f32 {
    let row_byte = row * row_bytes(params.n_in);
    var sum = 0.0;
    for (var group = 0u; group < params.n_in / VALUES_PER_GROUP; group++) {
        sum += group_dot(row_byte, group);
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
