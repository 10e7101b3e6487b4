// Weight access shared by every kernel that reads a weight matrix (matvec, matmul, embedding).
// A kernel source is this file, then one weights_<format>.wgsl, then the kernel file, which
// declares `weights: array<u32>`: the tensor's bytes exactly as GGUF stores them. A matrix is
// (n_out, n_in) row-major; row r starts at byte r * row_bytes(n_in). Values are read in groups
// of 8 along n_in: group g is values 8g .. 8g + 7 or (the 32-value formats) four of them and
// the four 16 further, so the 4 groups of a 32-value slice hold exactly its values. Every
// field read as a word starts at an even byte (every GGUF block size is even, tensors start
// 256-byte aligned), so a word straddles at most two u32s.

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

// Value bits first .. first + 3 of `word`, as 0 or 1.
fn bits4(word: u32, first: u32) -> vec4<f32> {
    return vec4<f32>((vec4<u32>(word) >> (vec4<u32>(0u, 1u, 2u, 3u) + first)) & vec4<u32>(1u));
}

fn byte_at(byte: u32) -> u32 {
    return (weights[byte >> 2u] >> ((byte & 3u) * 8u)) & 0xffu;
}

// Q4_K and Q5_K: the 6-bit scale (x) and minimum (y) of sub-block `sub` (0..7) from the 12
// bytes at `scales`: sub-blocks 0-3 in the low 6 bits of bytes 0-3 (scales) and 4-7 (mins),
// sub-blocks 4-7 in the low and high nibbles of bytes 8-11 with their top 2 bits in the top
// bits of bytes 0-7.
fn k_scale_min(scales: u32, sub: u32) -> vec2<f32> {
    if (sub < 4u) {
        return vec2<f32>(f32(byte_at(scales + sub) & 63u), f32(byte_at(scales + sub + 4u) & 63u));
    }
    let packed = byte_at(scales + sub + 4u);
    let scale = (packed & 15u) | ((byte_at(scales + sub - 4u) >> 6u) << 4u);
    let minimum = (packed >> 4u) | ((byte_at(scales + sub) >> 6u) << 4u);
    return vec2<f32>(f32(scale), f32(minimum));
}

// Q4_K and Q5_K: group `group`'s super-block (its first byte), its first value there, and its
// sub-block's factors: value = scale * q - offset.
struct KGroup {
    start: u32,
    value: u32,
    scale: f32,
    offset: f32,
}

fn k_group(row_byte: u32, group: u32) -> KGroup {
    let start = row_byte + group / 32u * WEIGHT_BLOCK_BYTES;
    let value = group % 32u * 8u;
    let d = unpack2x16float(word_at_even_byte(start));
    let scale_min = k_scale_min(start + 4u, value / 32u);
    return KGroup(start, value, d.x * scale_min.x, d.y * scale_min.y);
}
