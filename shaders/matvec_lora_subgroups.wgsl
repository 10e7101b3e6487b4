// Subgroup variant of matvec_lora.wgsl (placed after it; matvec_subgroups.wgsl opens the
// module): the rows reduce with subgroupAdd, t = A x as in matvec_lora.wgsl.

fn adapted_dot_subgroups(row: u32, weight_row: u32, thread: u32, lanes: u32,
                         subgroup_size: u32, subgroup_lane: u32) -> f32 {
    let partial = adapted_partial(row, weight_row, thread % THREADS_PER_ROW, lanes);
    return reduce_row_subgroups(thread, partial, subgroup_size, subgroup_lane);
}

fn adapted_product_subgroups(workgroup: vec3<u32>, thread: u32, subgroup_size: u32,
                             subgroup_lane: u32, accumulate: bool) {
    let row = output_row(workgroup, thread);
    let scale = row_scale(thread);
    let lanes = low_rank_input(thread);
    let total = adapted_dot_subgroups(row, row, thread, lanes, subgroup_size, subgroup_lane);
    store_row(row, thread, scale * total, accumulate);
}

@compute @workgroup_size(256)
fn matvec_lora_subgroups(@builtin(workgroup_id) workgroup: vec3<u32>,
                         @builtin(local_invocation_index) thread: u32,
                         @builtin(subgroup_size) subgroup_size: u32,
                         @builtin(subgroup_invocation_id) subgroup_lane: u32) {
    adapted_product_subgroups(workgroup, thread, subgroup_size, subgroup_lane, false);
}

@compute @workgroup_size(256)
fn matvec_accumulate_lora_subgroups(@builtin(workgroup_id) workgroup: vec3<u32>,
                                    @builtin(local_invocation_index) thread: u32,
                                    @builtin(subgroup_size) subgroup_size: u32,
                                    @builtin(subgroup_invocation_id) subgroup_lane: u32) {
    adapted_product_subgroups(workgroup, thread, subgroup_size, subgroup_lane, true);
}

@compute @workgroup_size(256)
fn matvec_swiglu_lora_subgroups(@builtin(workgroup_id) workgroup: vec3<u32>,
                                @builtin(local_invocation_index) thread: u32,
                                @builtin(subgroup_size) subgroup_size: u32,
                                @builtin(subgroup_invocation_id) subgroup_lane: u32) {
    let row = output_row(workgroup, thread);
    let scale = row_scale(thread);
    let lanes = low_rank_input(thread);
    let gate = scale * adapted_dot_subgroups(row, row, thread, lanes, subgroup_size,
                                             subgroup_lane);
    workgroupBarrier();  // row_partials is reused
    let up = scale * adapted_dot_subgroups(row, row + params.n_out, thread, lanes,
                                           subgroup_size, subgroup_lane);
    store_row(row, thread, silu(gate) * up, false);
}
