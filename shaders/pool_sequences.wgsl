// Pooling of sequences packed end to end in hidden (tokens, n): out (n_sequences, n) row s
// is the mean of rows spans[2s] .. spans[2s] + spans[2s + 1] - 1, or with
// first_token_only = 1 the sequence's first row ([CLS] pooling). One thread per column of
// one sequence; an empty sequence gives zeros.

struct Params {
    n_sequences: u32,
    n: u32,
    first_token_only: u32,
}

@group(0) @binding(0) var<storage, read> hidden: array<f32>;
@group(0) @binding(1) var<storage, read> spans: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(64)
fn pool_sequences(@builtin(global_invocation_id) id: vec3<u32>) {
    let column = id.x;
    let sequence = id.y;
    if (column >= params.n || sequence >= params.n_sequences) {
        return;
    }
    let first = spans[2u * sequence];
    let count = select(spans[2u * sequence + 1u], min(spans[2u * sequence + 1u], 1u),
                       params.first_token_only != 0u);
    var sum = 0.0;
    for (var t = first; t < first + count; t++) {
        sum += hidden[t * params.n + column];
    }
    out[sequence * params.n + column] = sum / f32(max(count, 1u));
}
