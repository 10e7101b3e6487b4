// Copy n_rows rows of row_len floats from `from_rows`, starting at row source_row, to
// `to_rows`, starting at row target_row: appends new keys and values to a KV cache at the current
// position, and picks the last token's hidden state after a prefill. A copy kernel rather
// than binding at an offset: offsets must be 256-byte aligned and would change every step.

struct Params {
    n_rows: u32,
    row_len: u32,
    source_row: u32,
    target_row: u32,
}

@group(0) @binding(0) var<storage, read> from_rows: array<f32>;
@group(0) @binding(1) var<storage, read_write> to_rows: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(256)
fn copy_rows(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x < params.n_rows * params.row_len) {
        let value = from_rows[params.source_row * params.row_len + id.x];
        to_rows[params.target_row * params.row_len + id.x] = value;
    }
}
