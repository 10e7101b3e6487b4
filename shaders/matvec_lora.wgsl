// matvec.wgsl with a LoRA adapter (lora.wgsl) in the same dispatch: the entries matvec_lora,
// matvec_accumulate_lora and matvec_swiglu_lora (B holds gate rows, then up rows) add
// B (A x) to each output row, x as the input file gives it (normalized for the _norm
// kernels). Every workgroup computes the low-rank t = A x itself: the rank's rows split the
// workgroup's threads between them (`lanes` each, a power of two) and reduce in workgroup
// memory. That repeats a few thousand multiply-adds per workgroup, read from cache, where a
// dispatch of its own would cost a GPU more: a decode step's time goes to its dispatches.
// Each row's threads then add their share of B's row times t to their partials before the
// row's reduction, so input_scale scales the adapter's term as it scales the product's.

var<workgroup> low_rank_sums: array<f32, 256>;

// t = A x into low_rank_sums[j * lanes] for each rank row j; returns `lanes`.
fn low_rank_input(thread: u32) -> u32 {
    let rank = lora_rank();
    // The workgroup's threads over the rank rounded up to a power of two.
    let lanes = (ROWS_PER_WORKGROUP * THREADS_PER_ROW) >> (32u - countLeadingZeros(rank - 1u));
    let rank_row = thread / lanes;
    let lane = thread % lanes;
    var sum = 0.0;
    if (rank_row < rank) {
        for (var quad = lane; quad < params.n_in / 4u; quad += lanes) {
            sum += dot(lora_a4(rank_row, quad), input4(4u * quad));
        }
    }
    low_rank_sums[thread] = sum;
    workgroupBarrier();
    for (var stride = lanes / 2u; stride > 0u; stride /= 2u) {
        if (lane < stride) {
            low_rank_sums[thread] += low_rank_sums[thread + stride];
        }
        workgroupBarrier();
    }
    return lanes;
}

// row_partial plus this thread's share of B's `weight_row` times t.
fn adapted_partial(row: u32, weight_row: u32, lane: u32, lanes: u32) -> f32 {
    var sum = row_partial(row, weight_row, lane);
    if (row < params.n_out) {
        for (var pair = lane; pair < lora_rank() / 2u; pair += THREADS_PER_ROW) {
            let b = lora_b2(weight_row, pair);
            let first = 2u * pair * lanes;
            sum += b.x * low_rank_sums[first] + b.y * low_rank_sums[first + lanes];
        }
    }
    return sum;
}

// (W x + B t) of `weight_row` for output `row`, valid in lane 0.
fn adapted_dot(row: u32, weight_row: u32, thread: u32, lanes: u32) -> f32 {
    let lane = thread % THREADS_PER_ROW;
    return reduce_row_shared(thread, adapted_partial(row, weight_row, lane, lanes));
}

// out = W x + B t (or out += W x + B t) for the workgroup's rows.
fn adapted_product(workgroup: vec3<u32>, thread: u32, accumulate: bool) {
    let row = output_row(workgroup, thread);
    let scale = row_scale(thread);
    let lanes = low_rank_input(thread);
    store_row(row, thread, scale * adapted_dot(row, row, thread, lanes), accumulate);
}

@compute @workgroup_size(256)
fn matvec_lora(@builtin(workgroup_id) workgroup: vec3<u32>,
               @builtin(local_invocation_index) thread: u32) {
    adapted_product(workgroup, thread, false);
}

@compute @workgroup_size(256)
fn matvec_accumulate_lora(@builtin(workgroup_id) workgroup: vec3<u32>,
                          @builtin(local_invocation_index) thread: u32) {
    adapted_product(workgroup, thread, true);
}

@compute @workgroup_size(256)
fn matvec_swiglu_lora(@builtin(workgroup_id) workgroup: vec3<u32>,
                      @builtin(local_invocation_index) thread: u32) {
    let row = output_row(workgroup, thread);
    let scale = row_scale(thread);
    let lanes = low_rank_input(thread);
    let gate = scale * adapted_dot(row, row, thread, lanes);
    workgroupBarrier();  // row_partials is reused
    let up = scale * adapted_dot(row, row + params.n_out, thread, lanes);
    store_row(row, thread, silu(gate) * up, false);
}
