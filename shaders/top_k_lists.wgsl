// Stage 1 of top_k (top_k.wgsl): list l holds values l, l + L, l + 2 L, ... (L lists, so at
// most LIST_LENGTH each); its k best go to candidates l * k + rank, best first, index NONE
// past a list shorter than k. Interleaved lists let neighbouring invocations of the `rows`
// variant (a CPU adapter's SIMD lanes) read neighbouring values; on a GPU the logits are
// still in cache from the product that wrote them.

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> candidate_values: array<f32>;
@group(0) @binding(2) var<storage, read_write> candidate_indices: array<u32>;
@group(0) @binding(3) var<uniform> params: Params;

var<private> list: u32;

fn item(i: u32) -> Candidate {
    let index = list + i * list_count();
    return Candidate(x[index], index);
}

fn store(rank: u32, candidate: Candidate) {
    candidate_values[list * params.k + rank] = candidate.value;
    candidate_indices[list * params.k + rank] = candidate.index;
}

fn list_length() -> u32 {
    return (params.n - list + list_count() - 1u) / list_count();
}

// One workgroup per list.
@compute @workgroup_size(THREADS)
fn top_k_lists(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) thread: u32,
) {
    list = workgroup.x;
    select_top_k(thread, list_length());
}

// One invocation per list.
@compute @workgroup_size(8)
fn top_k_lists_rows(@builtin(global_invocation_id) invocation: vec3<u32>) {
    list = invocation.x;
    if (list < list_count()) {
        select_top_k_serial(list_length());
    }
}
