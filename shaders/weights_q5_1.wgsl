// Q5_1 block (24 bytes, 32 values): f16 scale d, f16 minimum m, a u32 of fifth bits (bit j:
// value j), then 16 bytes of low 4 bits as Q4_0's; value = q * d + m.
// Group `part` (0..3) of a block is values 4 part .. 4 part + 3 and 16 + 4 part .. + 3.
const WEIGHT_BLOCK_VALUES: u32 = 32u;
const WEIGHT_BLOCK_BYTES: u32 = 24u;

fn weight_group(row_byte: u32, group: u32) -> WeightGroup {
    let block = group / 4u;
    let part = group % 4u;
    let start = row_byte + block * WEIGHT_BLOCK_BYTES;
    let scale_and_min = unpack2x16float(word_at_even_byte(start));
    let fifth = word_at_even_byte(start + 4u);
    let q = word_at_even_byte(start + 8u + part * 4u);
    let lo = nibbles_low(q) + 16.0 * bits4(fifth, part * 4u);
    let hi = nibbles_high(q) + 16.0 * bits4(fifth, 16u + part * 4u);
    let first = block * 32u + part * 4u;
    return WeightGroup(lo * scale_and_min.x + scale_and_min.y,
                       hi * scale_and_min.x + scale_and_min.y, first, first + 16u);
}
