// Weight access shared by every kernel that reads a weight matrix (matvec, matmul, embedding).
// A kernel source is this file, then one weights_<format>.wgsl, then the kernel file, which
// declares `weights: array<u32>`: the tensor's bytes exactly as GGUF stores them. A matrix is
// (n_out, n_in) row-major; row r starts at byte r * row_bytes(n_in). Values are read in groups
// of 8 along n_in. Every field read here starts at an even byte (GGUF block sizes 18, 20 and
// 34 are even, tensors start 256-byte aligned), so a word straddles at most two u32s.

struct WeightGroup {
    lo: vec4<f32>,  // values at n_in positions lo_index .. lo_index + 3
    hi: vec4<f32>,  // values at n_in positions hi_index .. hi_index + 3
    lo_index: u32,
    hi_index: u32,
}

const VALUES_PER_GROUP: u32 = 8u;

fn row_bytes(n_in: u32) -> u32 {
    return n_in / WEIGHT_BLOCK_VALUES * WEIGHT_BLOCK_BYTES;
}

fn word_at_even_byte(byte: u32) -> u32 {
    let word = weights[byte >> 2u];
    if ((byte & 2u) == 0u) {
        return word;
    }
    return (word >> 16u) | (weights[(byte >> 2u) + 1u] << 16u);
}

// f16 scales decoded with unpack2x16float, so no shader-f16 feature is needed.
fn f16_at_even_byte(byte: u32) -> f32 {
    let pair = unpack2x16float(weights[byte >> 2u]);
    return select(pair.x, pair.y, (byte & 2u) != 0u);
}

fn nibbles_low(q: u32) -> vec4<f32> {
    return vec4<f32>(vec4<u32>(q, q >> 8u, q >> 16u, q >> 24u) & vec4<u32>(0xfu));
}

fn nibbles_high(q: u32) -> vec4<f32> {
    return vec4<f32>(vec4<u32>(q >> 4u, q >> 12u, q >> 20u, q >> 28u) & vec4<u32>(0xfu));
}

fn signed_bytes(q: u32) -> vec4<f32> {
    let shifted = vec4<i32>(bitcast<i32>(q)) << vec4<u32>(24u, 16u, 8u, 0u);
    return vec4<f32>(shifted >> vec4<u32>(24u));
}
