// Stage 2 of top_k (top_k.wgsl): the k best of the lists' candidates, best first.

@group(0) @binding(0) var<storage, read> candidate_values: array<f32>;
@group(0) @binding(1) var<storage, read> candidate_indices: array<u32>;
@group(0) @binding(2) var<storage, read_write> indices: array<u32>;
@group(0) @binding(3) var<storage, read_write> values: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

fn item(i: u32) -> Candidate {
    return Candidate(candidate_values[i], candidate_indices[i]);
}

fn store(rank: u32, candidate: Candidate) {
    indices[rank] = candidate.index;
    values[rank] = candidate.value;
}

fn candidate_count() -> u32 {
    return list_count() * params.k;
}

@compute @workgroup_size(THREADS)
fn top_k(@builtin(local_invocation_index) thread: u32) {
    select_top_k(thread, candidate_count());
}

@compute @workgroup_size(1)
fn top_k_rows() {
    select_top_k_serial(candidate_count());
}
