// Q4_0 block (18 bytes, 32 values): f16 scale d, then 16 bytes; byte j holds value j in its
// low nibble and value j + 16 in its high nibble; value = (q - 8) * d.
// Group `part` (0..3) of a block is the 4 bytes 4 * part .. 4 * part + 3.
const WEIGHT_BLOCK_VALUES: u32 = 32u;
const WEIGHT_BLOCK_BYTES: u32 = 18u;

fn weight_group(row_byte: u32, group: u32) -> WeightGroup {
    let block = group / 4u;
    let part = group % 4u;
    let start = row_byte + block * WEIGHT_BLOCK_BYTES;
    let d = f16_at_even_byte(start);
    let q = word_at_even_byte(start + 2u + part * 4u);
    let first = block * 32u + part * 4u;
    return WeightGroup((nibbles_low(q) - 8.0) * d, (nibbles_high(q) - 8.0) * d, first, first + 16u);
}
