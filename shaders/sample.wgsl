// Draws the next token on the GPU, so sampled decode steps need no read-back between them
// (pagemind.models.generate draws exactly so): among top_k's k best (indices and values,
// best first), weights exp((value - best) / temperature), the smallest prefix whose weight
// reaches top_p of the k's (at least one), then the first candidate whose running weight
// passes `random` (in [0, 1), from the CPU's seeded generator) times the prefix's;
// temperature 0 takes the best. One thread. The choice goes to indices[0], where the next
// decode step reads its token, and to chosen_history[n_history].

struct Params {
    k: u32,
    temperature: f32,
    top_p: f32,
    random: f32,
    n_history: u32,
}

@group(0) @binding(0) var<storage, read_write> indices: array<u32>;
@group(0) @binding(1) var<storage, read> values: array<f32>;
@group(0) @binding(2) var<storage, read_write> chosen_history: array<u32>;
@group(0) @binding(3) var<uniform> params: Params;

// A candidate's weight: its probability up to a common factor (`best`: values[0]).
fn weight(candidate: u32, best: f32) -> f32 {
    return exp((values[candidate] - best) / params.temperature);
}

// The candidate drawn: its position among the k.
fn draw() -> u32 {
    // Read once: Mesa's OpenGL compiler (llvmpipe 22.3) reads values[0] as 0 in the last
    // loop when each weight reads it again.
    let best = values[0];
    var total = 0.0;
    for (var i = 0u; i < params.k; i++) {
        total += weight(i, best);
    }
    var kept = 0u;
    var mass = 0.0;
    loop {
        mass += weight(kept, best);
        kept++;
        if (kept == params.k || mass >= params.top_p * total) {
            break;
        }
    }
    var remaining = params.random * mass;
    for (var i = 0u; i < kept; i++) {
        remaining -= weight(i, best);
        if (remaining < 0.0) {
            return i;
        }
    }
    return kept - 1u; // rounding left a sliver of `remaining`
}

@compute @workgroup_size(1)
fn sample() {
    var chosen = indices[0];
    if (params.temperature > 0.0) {
        chosen = indices[draw()];
    }
    indices[0] = chosen;
    chosen_history[params.n_history] = chosen;
}
