// The LoRA adapter of a matrix-vector product, applied in the product's own dispatch
// (matvec_lora.wgsl, matvec_lora_rows.wgsl): out = W x + B (A x), the adapter's scale
// already folded into B (models/adapters.py). A is (rank, n_in) and B (rows of W, rank), both
// F16 and row-major, the rank a multiple of 8 and at most LORA_MAX_RANK. The rank is A's
// length over n_in: the program binds both buffers whole.

@group(0) @binding(5) var<storage, read> lora_a: array<vec2<u32>>;
@group(0) @binding(6) var<storage, read> lora_b: array<u32>;

const LORA_MAX_RANK: u32 = 256u;

fn lora_rank() -> u32 {
    return arrayLength(&lora_a) * 4u / params.n_in;
}

// A's values at n_in positions 4 quad .. 4 quad + 3 of its row `rank_row`.
fn lora_a4(rank_row: u32, quad: u32) -> vec4<f32> {
    let pair = lora_a[rank_row * (params.n_in / 4u) + quad];
    return vec4<f32>(unpack2x16float(pair.x), unpack2x16float(pair.y));
}

// B's values 2 pair and 2 pair + 1 of its row `weight_row`.
fn lora_b2(weight_row: u32, pair: u32) -> vec2<f32> {
    return unpack2x16float(lora_b[weight_row * lora_rank() / 2u + pair]);
}
