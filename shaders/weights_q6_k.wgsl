// Q6_K super-block (210 bytes, 256 values): 128 bytes of low 4 bits, 64 bytes of high 2 bits,
// 16 int8 scales (one per 16 values), f16 d. Value 128 h + 64 s + k has its low bits in
// nibble s of byte 64 h + k; value 128 h + 32 t + i its high bits at bit 2 t of byte
// 128 + 32 h + i. value = d * scale * (q - 32). Group g of a block is its values 8 g .. 8 g + 7.
const WEIGHT_BLOCK_VALUES: u32 = 256u;
const WEIGHT_BLOCK_BYTES: u32 = 210u;

fn weight_group(row_byte: u32, group: u32) -> WeightGroup {
    let start = row_byte + group / 32u * WEIGHT_BLOCK_BYTES;
    let value = group % 32u * 8u;  // in the block
    let half = value / 128u;
    let low_bits = start + half * 64u + value % 64u;
    let low_shift = value % 128u / 64u * 4u;
    let high_bits = start + 128u + half * 32u + value % 32u;
    let high_shift = value % 128u / 32u * 2u;
    let signed_scale = bitcast<i32>(byte_at(start + 192u + value / 16u) << 24u) >> 24u;
    let scale = f16_at_even_byte(start + 208u) * f32(signed_scale);
    let lo = nibbles_low(word_at_even_byte(low_bits) >> low_shift)
        + 16.0 * nibbles_low((word_at_even_byte(high_bits) >> high_shift) & 0x03030303u);
    let hi = nibbles_low(word_at_even_byte(low_bits + 4u) >> low_shift)
        + 16.0 * nibbles_low((word_at_even_byte(high_bits + 4u) >> high_shift) & 0x03030303u);
    let first = group * 8u;
    return WeightGroup((lo - 32.0) * scale, (hi - 32.0) * scale, first, first + 4u);
}
