// Q5_K super-block (176 bytes, 256 values): f16 d, f16 dmin, 12 bytes of 6-bit scales and
// minimums of its 8 sub-blocks of 32 values (k_scale_min), 32 bytes of fifth bits (bit j of
// byte i: value i of sub-block j), then 128 bytes of the low 4 bits as Q4_K's.
// value = d * scale * q - dmin * minimum. Group g of a block is its values 8 g .. 8 g + 7.
const WEIGHT_BLOCK_VALUES: u32 = 256u;
const WEIGHT_BLOCK_BYTES: u32 = 176u;

fn weight_group(row_byte: u32, group: u32) -> WeightGroup {
    let k = k_group(row_byte, group);
    let sub = k.value / 32u;
    let fifth = k.start + 16u + k.value % 32u;
    let quants = k.start + 48u + sub / 2u * 32u + k.value % 32u;
    let shift = sub % 2u * 4u;
    let lo = nibbles_low(word_at_even_byte(quants) >> shift)
        + 16.0 * nibbles_low((word_at_even_byte(fifth) >> sub) & 0x01010101u);
    let hi = nibbles_low(word_at_even_byte(quants + 4u) >> shift)
        + 16.0 * nibbles_low((word_at_even_byte(fifth + 4u) >> sub) & 0x01010101u);
    let first = group * 8u;
    return WeightGroup(lo * k.scale - k.offset, hi * k.scale - k.offset, first, first + 4u);
}
