// F16 weights: a "block" is one group of 8 consecutive values (n_in % 8 == 0).
const WEIGHT_BLOCK_VALUES: u32 = 8u;
const WEIGHT_BLOCK_BYTES: u32 = 16u;

fn weight_group(row_byte: u32, group: u32) -> WeightGroup {
    let word = row_byte / 4u + group * 4u;
    let lo = vec4<f32>(unpack2x16float(weights[word]), unpack2x16float(weights[word + 1u]));
    let hi = vec4<f32>(unpack2x16float(weights[word + 2u]), unpack2x16float(weights[word + 3u]));
    return WeightGroup(lo, hi, group * 8u, group * 8u + 4u);
}
