// The reductions of reduce.wgsl for one thread per row, with no barriers: placed before a
// norm kernel in place of reduce.wgsl (its workgroup size is REDUCE_THREADS), it gives the
// barrier-free variant used on CPU adapters such as SwiftShader and lavapipe.

const REDUCE_THREADS: u32 = 1u;

fn workgroup_sum(thread: u32, value: f32) -> f32 {
    return value;
}

fn workgroup_max(thread: u32, value: f32) -> f32 {
    return value;
}
