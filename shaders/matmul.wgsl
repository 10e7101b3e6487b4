// Register-blocked tiled matrix product for prefill and embedding batches on GPUs:
// out (T, n_out) = x (T, n_in) W^T (entry `matmul`) or out += x W^T (entry
// `matmul_accumulate`, the fused residual add). A workgroup of 256 threads owns a TILE x TILE
// (tokens x rows) output tile. For each TILE_K slice of n_in it stages x and the dequantized
// W slice in workgroup memory (each thread decodes one weight group: W is dequantized once per
// tile); then each thread sums a 4 x 4 block, tokens and rows 16 apart, from 8 vec4 loads per
// 64 multiply-adds, and adds the slice's sums to its f32 totals. The tiles and the slice's
// sums are of type TileScalar, which the file placed first declares: matmul_f32.wgsl, or
// matmul_f16.wgsl (the `f16` variant). Dispatch (ceil(n_out / 64), ceil(n_tokens / 64), 1).

struct Params {
    n_in: u32,
    n_out: u32,
    n_tokens: u32,
}

@group(0) @binding(0) var<storage, read> weights: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

const TILE: u32 = 64u;  // tokens and rows of a workgroup's output tile
const TILE_K: u32 = 32u;  // n_in values per slice: a block (K-quants: a sub-block)
const K4: u32 = TILE_K / 4u;  // vec4s per staged row
const THREADS_PER_SIDE: u32 = 16u;  // a thread's 4 tokens (and rows) are 16 apart

// Row-major, k along each row as vec4s: x_tile[token * K4 + k4]. A quarter-warp reads one
// token's vec4 (a broadcast), so x needs no padding.
var<workgroup> x_tile: array<vec4<TileScalar>, TILE * K4>;
// w_tile holds row r's k4-th vec4 at w_slot(r, k4): the XOR spreads the 8 consecutive rows a
// quarter-warp reads over all banks, where padding would exceed WebGPU's default 16 KiB.
var<workgroup> w_tile: array<vec4<TileScalar>, TILE * K4>;

fn w_slot(row: u32, k4: u32) -> u32 {
    return row * K4 + (k4 ^ (row % K4));
}

// Two vec4s per thread; tokens past the batch read the last token (their sums are never stored).
fn stage_x(thread: u32, first_token: u32, k0: u32) {
    let n_in4 = params.n_in / 4u;
    for (var i = thread; i < TILE * K4; i += 256u) {
        let token = min(first_token + i / K4, params.n_tokens - 1u);
        let k4 = k0 / 4u + i % K4;
        var value = vec4<f32>(0.0);
        if (k4 < n_in4) {
            value = x[token * n_in4 + k4];
        }
        x_tile[i] = vec4<TileScalar>(value);
    }
}

// One weight group (8 values) per thread, TILE rows x 4 groups = 256: row thread / 4, group
// thread % 4 of the slice. Rows past the matrix read its last row (never stored); groups past
// n_in (F32/F16 rows that are not whole slices) are zero.
fn stage_w(thread: u32, first_row: u32, k0: u32) {
    let local_row = thread / 4u;
    let group = k0 / VALUES_PER_GROUP + thread % 4u;
    let row = min(first_row + local_row, params.n_out - 1u);
    let w = weight_group(row * row_bytes(params.n_in), group);
    let valid = group < params.n_in / VALUES_PER_GROUP;
    let lo = select(vec4<f32>(0.0), w.lo, valid);
    let hi = select(vec4<f32>(0.0), w.hi, valid);
    w_tile[w_slot(local_row, (w.lo_index - k0) / 4u)] = vec4<TileScalar>(lo);
    w_tile[w_slot(local_row, (w.hi_index - k0) / 4u)] = vec4<TileScalar>(hi);
}

// Column t, row r: the product of token thread_token + 16 t with row thread_row + 16 r.
fn tile_products(first_token: u32, first_row: u32, thread: u32) -> mat4x4<f32> {
    let thread_token = thread / THREADS_PER_SIDE;
    let thread_row = thread % THREADS_PER_SIDE;
    var sums = mat4x4<f32>();
    for (var k0 = 0u; k0 < params.n_in; k0 += TILE_K) {
        stage_x(thread, first_token, k0);
        stage_w(thread, first_row, k0);
        workgroupBarrier();
        var slice_sums = mat4x4<TileScalar>();
        for (var k4 = 0u; k4 < K4; k4++) {
            // Columns: the k4-th vec4 of the thread's 4 rows, and of its 4 tokens.
            let w = mat4x4<TileScalar>(w_tile[w_slot(thread_row, k4)],
                                       w_tile[w_slot(thread_row + 16u, k4)],
                                       w_tile[w_slot(thread_row + 32u, k4)],
                                       w_tile[w_slot(thread_row + 48u, k4)]);
            let xs = mat4x4<TileScalar>(x_tile[thread_token * K4 + k4],
                                        x_tile[(thread_token + 16u) * K4 + k4],
                                        x_tile[(thread_token + 32u) * K4 + k4],
                                        x_tile[(thread_token + 48u) * K4 + k4]);
            slice_sums += transpose(w) * xs;
        }
        sums += mat4x4<f32>(slice_sums);
        workgroupBarrier();
    }
    return sums;
}

fn store_tile(first_token: u32, first_row: u32, thread: u32, sums: mat4x4<f32>,
              accumulate: bool) {
    var block = sums;  // a variable, so the loops below may index it
    for (var t = 0u; t < 4u; t++) {
        let token = first_token + thread / THREADS_PER_SIDE + t * THREADS_PER_SIDE;
        for (var r = 0u; r < 4u; r++) {
            let row = first_row + thread % THREADS_PER_SIDE + r * THREADS_PER_SIDE;
            if (token < params.n_tokens && row < params.n_out) {
                let index = token * params.n_out + row;
                out[index] = select(block[t][r], out[index] + block[t][r], accumulate);
            }
        }
    }
}

fn tile_product(workgroup: vec3<u32>, thread: u32, accumulate: bool) {
    let first_token = workgroup.y * TILE;
    let first_row = workgroup.x * TILE;
    let sums = tile_products(first_token, first_row, thread);
    store_tile(first_token, first_row, thread, sums, accumulate);
}

@compute @workgroup_size(256)
fn matmul(@builtin(workgroup_id) workgroup: vec3<u32>,
          @builtin(local_invocation_index) thread: u32) {
    tile_product(workgroup, thread, false);
}

@compute @workgroup_size(256)
fn matmul_accumulate(@builtin(workgroup_id) workgroup: vec3<u32>,
                     @builtin(local_invocation_index) thread: u32) {
    tile_product(workgroup, thread, true);
}
