enable f16;

// The `f16` variant of matmul.wgsl, placed first (`enable` must open the module), for devices
// with the `shader-f16` feature: x and the dequantized weights are staged as f16 and each
// 32-value slice of the dot products is summed in f16 (half the workgroup memory traffic of
// f32, and packed f16 arithmetic); the slices' sums add up in f32. Inputs must stay within
// f16's range (|value| < 65504).
alias TileScalar = f16;
