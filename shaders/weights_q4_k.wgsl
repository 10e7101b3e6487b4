// Q4_K super-block (144 bytes, 256 values): f16 d, f16 dmin, 12 bytes of 6-bit scales and
// minimums of its 8 sub-blocks of 32 values (k_scale_min), then 128 bytes of 4-bit q: bytes
// 32 c .. 32 c + 31 hold sub-block 2 c in their low nibbles and 2 c + 1 in their high ones.
// value = d * scale * q - dmin * minimum. Group g of a block is its values 8 g .. 8 g + 7.
const WEIGHT_BLOCK_VALUES: u32 = 256u;
const WEIGHT_BLOCK_BYTES: u32 = 144u;

fn weight_group(row_byte: u32, group: u32) -> WeightGroup {
    let k = k_group(row_byte, group);
    let sub = k.value / 32u;
    let quants = k.start + 16u + sub / 2u * 32u + k.value % 32u;
    let shift = sub % 2u * 4u;
    let lo = nibbles_low(word_at_even_byte(quants) >> shift);
    let hi = nibbles_low(word_at_even_byte(quants + 4u) >> shift);
    let first = group * 8u;
    return WeightGroup(lo * k.scale - k.offset, hi * k.scale - k.offset, first, first + 4u);
}
