enable subgroups;

// Subgroup variant of matvec.wgsl (placed before it in the kernel source, since `enable`
// must open the module): subgroupAdd replaces most of the workgroup-memory tree. A subgroup
// never straddles two rows when subgroup_size <= THREADS_PER_ROW (both powers of two);
// larger subgroups fall back to the shared-memory reduction (as does row_scale's sum of
// squares, one per workgroup).

fn reduce_row_subgroups(thread: u32, partial: f32, subgroup_size: u32,
                        subgroup_lane: u32) -> f32 {
    if (subgroup_size > THREADS_PER_ROW) {
        return reduce_row_shared(thread, partial);
    }
    let subgroup_total = subgroupAdd(partial);
    if (subgroup_lane == 0u) {
        row_partials[thread / subgroup_size] = subgroup_total;
    }
    workgroupBarrier();
    let subgroups_per_row = THREADS_PER_ROW / subgroup_size;
    let first = (thread / THREADS_PER_ROW) * subgroups_per_row;
    var total = 0.0;
    for (var i = 0u; i < subgroups_per_row; i++) {
        total += row_partials[first + i];
    }
    return total;
}

// The dot product of W's `weight_row` with x for output `row`, valid in lane 0.
fn row_dot_subgroups(row: u32, weight_row: u32, thread: u32, subgroup_size: u32,
                     subgroup_lane: u32) -> f32 {
    let partial = row_partial(row, weight_row, thread % THREADS_PER_ROW);
    return reduce_row_subgroups(thread, partial, subgroup_size, subgroup_lane);
}

@compute @workgroup_size(256)
fn matvec_subgroups(@builtin(workgroup_id) workgroup: vec3<u32>,
                    @builtin(local_invocation_index) thread: u32,
                    @builtin(subgroup_size) subgroup_size: u32,
                    @builtin(subgroup_invocation_id) subgroup_lane: u32) {
    let row = output_row(workgroup, thread);
    let scale = row_scale(thread);
    let total = row_dot_subgroups(row, row, thread, subgroup_size, subgroup_lane);
    store_row(row, thread, scale * total, false);
}

@compute @workgroup_size(256)
fn matvec_accumulate_subgroups(@builtin(workgroup_id) workgroup: vec3<u32>,
                               @builtin(local_invocation_index) thread: u32,
                               @builtin(subgroup_size) subgroup_size: u32,
                               @builtin(subgroup_invocation_id) subgroup_lane: u32) {
    let row = output_row(workgroup, thread);
    let scale = row_scale(thread);
    let total = row_dot_subgroups(row, row, thread, subgroup_size, subgroup_lane);
    store_row(row, thread, scale * total, true);
}

@compute @workgroup_size(256)
fn matvec_swiglu_subgroups(@builtin(workgroup_id) workgroup: vec3<u32>,
                           @builtin(local_invocation_index) thread: u32,
                           @builtin(subgroup_size) subgroup_size: u32,
                           @builtin(subgroup_invocation_id) subgroup_lane: u32) {
    let row = output_row(workgroup, thread);
    let scale = row_scale(thread);
    let gate = scale * row_dot_subgroups(row, row, thread, subgroup_size, subgroup_lane);
    workgroupBarrier();  // row_partials is reused
    let up = scale * row_dot_subgroups(row, row + params.n_out, thread, subgroup_size,
                                       subgroup_lane);
    store_row(row, thread, silu(gate) * up, false);
}
