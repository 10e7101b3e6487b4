// Tiled matrix product for prefill and embedding batches: out (T, n_out) = x (T, n_in) W^T
// (entry `matmul`) or out += x W^T (entry `matmul_accumulate`, the fused residual add).
// A workgroup owns a TILE_TOKENS x TILE_ROWS output tile; for each TILE_K slice of n_in it
// stages x and the dequantized W slice in workgroup memory, then each thread accumulates two
// outputs. W is dequantized once per tile, not once per token.

struct Params {
    n_in: u32,
    n_out: u32,
    n_tokens: u32,
}

@group(0) @binding(0) var<storage, read> weights: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

const TILE_TOKENS: u32 = 16u;
const TILE_ROWS: u32 = 32u;
const TILE_K: u32 = 32u;
const W_STRIDE: u32 = TILE_K + 1u;  // padding keeps column reads off one memory bank
const GROUPS_PER_SLICE: u32 = TILE_K / VALUES_PER_GROUP;

var<workgroup> x_tile: array<f32, TILE_TOKENS * TILE_K>;
var<workgroup> w_tile: array<f32, TILE_ROWS * W_STRIDE>;

fn stage_x(thread: u32, first_token: u32, k0: u32) {
    for (var i = thread; i < TILE_TOKENS * TILE_K; i += 256u) {
        let token = first_token + i / TILE_K;
        let k = k0 + i % TILE_K;
        var value = 0.0;
        if (token < params.n_tokens && k < params.n_in) {
            value = x[token * params.n_in + k];
        }
        x_tile[i] = value;
    }
}

fn stage_w(thread: u32, first_row: u32, k0: u32) {
    if (thread >= TILE_ROWS * GROUPS_PER_SLICE) {
        return;
    }
    let local_row = thread / GROUPS_PER_SLICE;
    let row = first_row + local_row;
    let group = k0 / VALUES_PER_GROUP + thread % GROUPS_PER_SLICE;
    let valid = row < params.n_out && group < params.n_in / VALUES_PER_GROUP;
    // Out-of-range rows and groups still compute their positions (reads are bounds-checked)
    // and store zeros there, so the slice holds no stale values.
    let w = weight_group(min(row, params.n_out - 1u) * row_bytes(params.n_in), group);
    let lo = select(vec4<f32>(0.0), w.lo, valid);
    let hi = select(vec4<f32>(0.0), w.hi, valid);
    let base = local_row * W_STRIDE;
    for (var i = 0u; i < 4u; i++) {
        w_tile[base + w.lo_index - k0 + i] = lo[i];
        w_tile[base + w.hi_index - k0 + i] = hi[i];
    }
}

fn tile_products(workgroup: vec3<u32>, thread: u32) -> vec2<f32> {
    let first_row = workgroup.x * TILE_ROWS;
    let first_token = workgroup.y * TILE_TOKENS;
    let local_token = thread / 16u;
    let local_row = thread % 16u;
    var sums = vec2<f32>(0.0);
    for (var k0 = 0u; k0 < params.n_in; k0 += TILE_K) {
        stage_x(thread, first_token, k0);
        stage_w(thread, first_row, k0);
        workgroupBarrier();
        for (var k = 0u; k < TILE_K; k++) {
            let xv = x_tile[local_token * TILE_K + k];
            sums += xv * vec2<f32>(w_tile[local_row * W_STRIDE + k],
                                   w_tile[(local_row + 16u) * W_STRIDE + k]);
        }
        workgroupBarrier();
    }
    return sums;
}

fn store_tile(workgroup: vec3<u32>, thread: u32, sums: vec2<f32>, accumulate: bool) {
    let token = workgroup.y * TILE_TOKENS + thread / 16u;
    if (token >= params.n_tokens) {
        return;
    }
    for (var half = 0u; half < 2u; half++) {
        let row = workgroup.x * TILE_ROWS + thread % 16u + half * 16u;
        if (row < params.n_out) {
            let index = token * params.n_out + row;
            out[index] = select(sums[half], out[index] + sums[half], accumulate);
        }
    }
}

@compute @workgroup_size(256)
fn matmul(@builtin(workgroup_id) workgroup: vec3<u32>,
          @builtin(local_invocation_index) thread: u32) {
    store_tile(workgroup, thread, tile_products(workgroup, thread), false);
}

@compute @workgroup_size(256)
fn matmul_accumulate(@builtin(workgroup_id) workgroup: vec3<u32>,
                     @builtin(local_invocation_index) thread: u32) {
    store_tile(workgroup, thread, tile_products(workgroup, thread), true);
}
