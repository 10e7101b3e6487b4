// Matrix-vector product for decoding one token: out = W x (entry `matvec`),
// out += W x (entry `matvec_accumulate`: the residual add fused into the output), or
// out = silu(W_gate x) * (W_up x) (entry `matvec_swiglu`: W is the fused ffn_gate_up, its
// n_out gate rows then its n_out up rows; the SwiGLU fused into the product).
// W is (n_out, n_in) in any weights_<format>.wgsl layout. Each workgroup computes
// ROWS_PER_WORKGROUP output rows; the THREADS_PER_ROW threads of a row split n_in between
// them, reading neighbouring groups so their loads coalesce, then reduce in workgroup memory.
// The input file placed before this one declares Params and what the product reads of x
// (input4, NORMALIZES_INPUT, input_scale): x itself (matvec_input.wgsl), or x under an RMS
// norm (matvec_input_norm.wgsl: the same entry points are then the kernels matvec_norm and
// matvec_norm_swiglu). x is read as vec4s: every group's 4-value runs start at a multiple
// of 4.

@group(0) @binding(0) var<storage, read> weights: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

const ROWS_PER_WORKGROUP: u32 = 4u;
const THREADS_PER_ROW: u32 = 64u;
var<workgroup> row_partials: array<f32, 256>;

fn group_dot(row_byte: u32, group: u32) -> f32 {
    let w = weight_group(row_byte, group);
    return dot(w.lo, input4(w.lo_index)) + dot(w.hi, input4(w.hi_index));
}

// This thread's share of the dot product of W's `weight_row` with x, for output `row` (0 past
// the last output row: those threads still take part in the reduction).
fn row_partial(row: u32, weight_row: u32, lane: u32) -> f32 {
    var sum = 0.0;
    if (row < params.n_out) {
        let row_byte = weight_row * row_bytes(params.n_in);
        for (var group = lane; group < params.n_in / VALUES_PER_GROUP; group += THREADS_PER_ROW) {
            sum += group_dot(row_byte, group);
        }
    }
    return sum;
}

// Tree reduction over the THREADS_PER_ROW partials of each row; valid in lane 0.
fn reduce_row_shared(thread: u32, partial: f32) -> f32 {
    row_partials[thread] = partial;
    workgroupBarrier();
    let lane = thread % THREADS_PER_ROW;
    for (var stride = THREADS_PER_ROW / 2u; stride > 0u; stride /= 2u) {
        if (lane < stride) {
            row_partials[thread] += row_partials[thread + stride];
        }
        workgroupBarrier();
    }
    return row_partials[thread];
}

// The dot product of W's `weight_row` with x for output `row`, valid in lane 0.
fn row_dot(row: u32, weight_row: u32, thread: u32) -> f32 {
    return reduce_row_shared(thread, row_partial(row, weight_row, thread % THREADS_PER_ROW));
}

// The factor every output is scaled by (the input file's input_scale), valid in lane 0: for
// a normalized input each row's threads add up the squares of the whole of x.
fn row_scale(thread: u32) -> f32 {
    if (!NORMALIZES_INPUT) {
        return 1.0;
    }
    var sum = 0.0;
    for (var i = thread % THREADS_PER_ROW; i < params.n_in / 4u; i += THREADS_PER_ROW) {
        sum += dot(x[i], x[i]);
    }
    let total = reduce_row_shared(thread, sum);
    workgroupBarrier();  // row_partials is reused
    return input_scale(total);
}

fn store_row(row: u32, thread: u32, value: f32, accumulate: bool) {
    if (thread % THREADS_PER_ROW == 0u && row < params.n_out) {
        out[row] = select(value, out[row] + value, accumulate);
    }
}

fn output_row(workgroup: vec3<u32>, thread: u32) -> u32 {
    return workgroup.x * ROWS_PER_WORKGROUP + thread / THREADS_PER_ROW;
}

@compute @workgroup_size(256)
fn matvec(@builtin(workgroup_id) workgroup: vec3<u32>,
          @builtin(local_invocation_index) thread: u32) {
    let row = output_row(workgroup, thread);
    let scale = row_scale(thread);
    store_row(row, thread, scale * row_dot(row, row, thread), false);
}

@compute @workgroup_size(256)
fn matvec_accumulate(@builtin(workgroup_id) workgroup: vec3<u32>,
                     @builtin(local_invocation_index) thread: u32) {
    let row = output_row(workgroup, thread);
    let scale = row_scale(thread);
    store_row(row, thread, scale * row_dot(row, row, thread), true);
}

@compute @workgroup_size(256)
fn matvec_swiglu(@builtin(workgroup_id) workgroup: vec3<u32>,
                 @builtin(local_invocation_index) thread: u32) {
    let row = output_row(workgroup, thread);
    let scale = row_scale(thread);
    let gate = scale * row_dot(row, row, thread);
    workgroupBarrier();  // row_partials is reused
    let up = scale * row_dot(row, row + params.n_out, thread);
    store_row(row, thread, silu(gate) * up, false);
}
