// The `rows` variant of matvec_lora.wgsl (placed after matvec_rows.wgsl), for CPU adapters:
// the workgroup's invocations first take the rows of t = A x in turn (each scaled by
// input_scale, as row_dot scales its products) into workgroup memory; after the one barrier,
// each adds B's row times t to its own row. That barrier costs a CPU adapter more than two
// dispatches of their own would (lavapipe: the adapted products about 40 % slower, where
// the t = A x and out += B t dispatches add about 5 % to a decode step); a GPU's decode step
// is the other way round, and the program is the same for both.

var<workgroup> low_rank: array<f32, LORA_MAX_RANK>;

fn low_rank_input_rows(thread: u32) {
    let rank = lora_rank();
    for (var rank_row = thread; rank_row < rank; rank_row += 64u) {
        var sum = 0.0;
        var squares = 0.0;
        for (var quad = 0u; quad < params.n_in / 4u; quad++) {
            let x4 = x[quad];
            sum += dot(lora_a4(rank_row, quad), input4(4u * quad));
            squares += dot(x4, x4);
        }
        low_rank[rank_row] = sum * input_scale(squares);
    }
    workgroupBarrier();
}

fn adapted_row_dot(weight_row: u32) -> f32 {
    var sum = row_dot(weight_row);
    for (var pair = 0u; pair < lora_rank() / 2u; pair++) {
        let b = lora_b2(weight_row, pair);
        sum += b.x * low_rank[2u * pair] + b.y * low_rank[2u * pair + 1u];
    }
    return sum;
}

@compute @workgroup_size(64)
fn matvec_lora_rows(@builtin(global_invocation_id) id: vec3<u32>,
                    @builtin(local_invocation_index) thread: u32) {
    low_rank_input_rows(thread);
    if (id.x < params.n_out) {
        out[id.x] = adapted_row_dot(id.x);
    }
}

@compute @workgroup_size(64)
fn matvec_accumulate_lora_rows(@builtin(global_invocation_id) id: vec3<u32>,
                               @builtin(local_invocation_index) thread: u32) {
    low_rank_input_rows(thread);
    if (id.x < params.n_out) {
        out[id.x] += adapted_row_dot(id.x);
    }
}

@compute @workgroup_size(64)
fn matvec_swiglu_lora_rows(@builtin(global_invocation_id) id: vec3<u32>,
                           @builtin(local_invocation_index) thread: u32) {
    low_rank_input_rows(thread);
    if (id.x < params.n_out) {
        out[id.x] = silu(adapted_row_dot(id.x)) * adapted_row_dot(id.x + params.n_out);
    }
}
