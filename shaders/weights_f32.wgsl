// F32 weights: a "block" is one group of 8 consecutive values (n_in % 8 == 0).
const WEIGHT_BLOCK_VALUES: u32 = 8u;
const WEIGHT_BLOCK_BYTES: u32 = 32u;

fn weight_group(row_byte: u32, group: u32) -> WeightGroup {
    let word = row_byte / 4u + group * 8u;
    let lo = vec4<f32>(bitcast<f32>(weights[word]), bitcast<f32>(weights[word + 1u]),
                       bitcast<f32>(weights[word + 2u]), bitcast<f32>(weights[word + 3u]));
    let hi = vec4<f32>(bitcast<f32>(weights[word + 4u]), bitcast<f32>(weights[word + 5u]),
                       bitcast<f32>(weights[word + 6u]), bitcast<f32>(weights[word + 7u]));
    return WeightGroup(lo, hi, group * 8u, group * 8u + 4u);
}
