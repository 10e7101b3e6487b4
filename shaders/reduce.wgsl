// Workgroup-wide reductions for kernels that run 256 threads per row (norms, softmax,
// attention). Every thread must call them (they contain barriers); all get the result.

const REDUCE_THREADS: u32 = 256u;
var<workgroup> reduce_scratch: array<f32, REDUCE_THREADS>;

fn workgroup_sum(thread: u32, value: f32) -> f32 {
    reduce_scratch[thread] = value;
    workgroupBarrier();
    for (var stride = REDUCE_THREADS / 2u; stride > 0u; stride /= 2u) {
        if (thread < stride) {
            reduce_scratch[thread] += reduce_scratch[thread + stride];
        }
        workgroupBarrier();
    }
    let total = reduce_scratch[0];
    workgroupBarrier();  // the scratch is reused by the next reduction
    return total;
}

fn workgroup_max(thread: u32, value: f32) -> f32 {
    reduce_scratch[thread] = value;
    workgroupBarrier();
    for (var stride = REDUCE_THREADS / 2u; stride > 0u; stride /= 2u) {
        if (thread < stride) {
            reduce_scratch[thread] = max(reduce_scratch[thread], reduce_scratch[thread + stride]);
        }
        workgroupBarrier();
    }
    let total = reduce_scratch[0];
    workgroupBarrier();
    return total;
}
