// Q4_1 block (20 bytes, 32 values): f16 scale d, f16 minimum m, then 16 bytes; byte j holds
// value j in its low nibble and value j + 16 in its high nibble; value = q * d + m.
// Group `part` (0..3) of a block is the 4 bytes 4 * part .. 4 * part + 3.
const WEIGHT_BLOCK_VALUES: u32 = 32u;
const WEIGHT_BLOCK_BYTES: u32 = 20u;

fn weight_group(row_byte: u32, group: u32) -> WeightGroup {
    let block = group / 4u;
    let part = group % 4u;
    let start = row_byte + block * WEIGHT_BLOCK_BYTES;
    let scale_and_min = unpack2x16float(word_at_even_byte(start));
    let q = word_at_even_byte(start + 4u + part * 4u);
    let first = block * 32u + part * 4u;
    return WeightGroup(nibbles_low(q) * scale_and_min.x + scale_and_min.y,
                       nibbles_high(q) * scale_and_min.x + scale_and_min.y, first, first + 16u);
}
