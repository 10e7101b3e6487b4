// Barrier-free matrix product for CPU adapters such as SwiftShader and lavapipe, where
// workgroup barriers cost more than the arithmetic; it replaces matmul.wgsl in the kernel
// source (same Params and bindings, x read as vec4s: every group's 4-value runs start at a
// multiple of 4). out (T, n_out) = x (T, n_in) W^T (entry `matmul_rows`) or out += x W^T
// (`matmul_accumulate_rows`). One invocation owns a tile of 4 rows x 8 tokens and walks
// the rows' groups once: each weight group is decoded once per 8 tokens and each x load
// serves 4 rows (a CPU adapter pays per load, so both are shared). No workgroup memory.
// Dispatch (ceil(n_out / 256), ceil(n_tokens / 8), 1).

struct Params {
    n_in: u32,
    n_out: u32,
    n_tokens: u32,
}

@group(0) @binding(0) var<storage, read> weights: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

const TILE_ROWS: u32 = 4u;
const TILE_TOKENS: u32 = 8u;

// Row r's weights (rows past the matrix read its last row; their sums are never stored).
fn tile_weights(first_row: u32, r: u32, group: u32) -> WeightGroup {
    return weight_group(min(first_row + r, params.n_out - 1u) * row_bytes(params.n_in), group);
}

// The group's part of the dot products of 4 rows with token `token`'s x.
fn rows_dot(w0: WeightGroup, w1: WeightGroup, w2: WeightGroup, w3: WeightGroup,
            token: u32) -> vec4<f32> {
    let base = min(token, params.n_tokens - 1u) * params.n_in;
    let lo = x[(base + w0.lo_index) / 4u];
    let hi = x[(base + w0.hi_index) / 4u];
    return vec4<f32>(dot(w0.lo, lo) + dot(w0.hi, hi), dot(w1.lo, lo) + dot(w1.hi, hi),
                     dot(w2.lo, lo) + dot(w2.hi, hi), dot(w3.lo, lo) + dot(w3.hi, hi));
}

fn store_rows(first_row: u32, token: u32, values: vec4<f32>, accumulate: bool) {
    if (token >= params.n_tokens) {
        return;
    }
    for (var r = 0u; r < TILE_ROWS; r++) {
        if (first_row + r < params.n_out) {
            let index = token * params.n_out + first_row + r;
            out[index] = select(values[r], out[index] + values[r], accumulate);
        }
    }
}

fn tile_product(id: vec3<u32>, accumulate: bool) {
    let first_row = id.x * TILE_ROWS;
    if (first_row >= params.n_out) {
        return;
    }
    let first = id.y * TILE_TOKENS;
    var t0 = vec4<f32>(0.0);  // token first + i, rows first_row .. first_row + 3
    var t1 = vec4<f32>(0.0);
    var t2 = vec4<f32>(0.0);
    var t3 = vec4<f32>(0.0);
    var t4 = vec4<f32>(0.0);
    var t5 = vec4<f32>(0.0);
    var t6 = vec4<f32>(0.0);
    var t7 = vec4<f32>(0.0);
    for (var group = 0u; group < params.n_in / VALUES_PER_GROUP; group++) {
        let w0 = tile_weights(first_row, 0u, group);
        let w1 = tile_weights(first_row, 1u, group);
        let w2 = tile_weights(first_row, 2u, group);
        let w3 = tile_weights(first_row, 3u, group);
        t0 += rows_dot(w0, w1, w2, w3, first);
        t1 += rows_dot(w0, w1, w2, w3, first + 1u);
        t2 += rows_dot(w0, w1, w2, w3, first + 2u);
        t3 += rows_dot(w0, w1, w2, w3, first + 3u);
        t4 += rows_dot(w0, w1, w2, w3, first + 4u);
        t5 += rows_dot(w0, w1, w2, w3, first + 5u);
        t6 += rows_dot(w0, w1, w2, w3, first + 6u);
        t7 += rows_dot(w0, w1, w2, w3, first + 7u);
    }
    store_rows(first_row, first, t0, accumulate);
    store_rows(first_row, first + 1u, t1, accumulate);
    store_rows(first_row, first + 2u, t2, accumulate);
    store_rows(first_row, first + 3u, t3, accumulate);
    store_rows(first_row, first + 4u, t4, accumulate);
    store_rows(first_row, first + 5u, t5, accumulate);
    store_rows(first_row, first + 6u, t6, accumulate);
    store_rows(first_row, first + 7u, t7, accumulate);
}

@compute @workgroup_size(64)
fn matmul_rows(@builtin(global_invocation_id) id: vec3<u32>) {
    tile_product(id, false);
}

@compute @workgroup_size(64)
fn matmul_accumulate_rows(@builtin(global_invocation_id) id: vec3<u32>) {
    tile_product(id, true);
}
