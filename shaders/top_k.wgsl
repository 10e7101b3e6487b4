// The k largest of n values (k <= 64), best first, so a decode step reads back k indices
// and values instead of the logits; k = 1 is argmax. Ties go to the lower index. One
// workgroup of 256 threads: round r finds the best value ranked after round r - 1's pick.

struct Params {
    n: u32,
    k: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> indices: array<u32>;
@group(0) @binding(2) var<storage, read_write> values: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

const THREADS: u32 = 256u;
const NONE: u32 = 0xffffffffu;
var<workgroup> best_values: array<f32, THREADS>;
var<workgroup> best_indices: array<u32, THREADS>;

// Whether (value, index) ranks before (other_value, other_index): larger value, then lower index.
fn ranks_before(value: f32, index: u32, other_value: f32, other_index: u32) -> bool {
    return other_index == NONE || value > other_value
        || (value == other_value && index < other_index);
}

@compute @workgroup_size(256)
fn top_k(@builtin(local_invocation_index) thread: u32) {
    var previous_value = 0.0;
    var previous_index = NONE;
    for (var round = 0u; round < params.k; round++) {
        var value = 0.0;
        var index = NONE;
        for (var i = thread; i < params.n; i += THREADS) {
            let candidate = x[i];
            let after_previous = previous_index == NONE
                || ranks_before(previous_value, previous_index, candidate, i);
            if (after_previous && ranks_before(candidate, i, value, index)) {
                value = candidate;
                index = i;
            }
        }
        best_values[thread] = value;
        best_indices[thread] = index;
        workgroupBarrier();
        for (var stride = THREADS / 2u; stride > 0u; stride /= 2u) {
            if (thread < stride && best_indices[thread + stride] != NONE
                && ranks_before(best_values[thread + stride], best_indices[thread + stride],
                                best_values[thread], best_indices[thread])) {
                best_values[thread] = best_values[thread + stride];
                best_indices[thread] = best_indices[thread + stride];
            }
            workgroupBarrier();
        }
        previous_value = best_values[0];
        previous_index = best_indices[0];
        if (thread == 0u) {
            indices[round] = previous_index;
            values[round] = previous_value;
        }
        workgroupBarrier();
    }
}
