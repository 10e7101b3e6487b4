// Q8_0 block (34 bytes, 32 values): f16 scale d, then 32 signed bytes q; value = q * d.
// Group `part` (0..3) of a block is the 8 bytes 8 * part .. 8 * part + 7.
const WEIGHT_BLOCK_VALUES: u32 = 32u;
const WEIGHT_BLOCK_BYTES: u32 = 34u;

fn weight_group(row_byte: u32, group: u32) -> WeightGroup {
    let block = group / 4u;
    let part = group % 4u;
    let start = row_byte + block * WEIGHT_BLOCK_BYTES;
    let d = f16_at_even_byte(start);
    let quants = start + 2u + part * 8u;
    let first = block * 32u + part * 8u;
    return WeightGroup(signed_bytes(word_at_even_byte(quants)) * d,
                       signed_bytes(word_at_even_byte(quants + 4u)) * d, first, first + 4u);
}
