// Placed before matmul.wgsl in the plain variant: tiles and per-slice sums in f32.
alias TileScalar = f32;
