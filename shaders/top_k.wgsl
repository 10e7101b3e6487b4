// The k largest of n values (k <= 64), best first, so a decode step reads back k indices
// and values instead of the logits; k = 1 is argmax. Ties go to the lower index. Two
// dispatches: `top_k_lists` (top_k_lists.wgsl) keeps the k best of each of
// ceil(n / LIST_LENGTH) lists of values as candidates, many workgroups at once; `top_k`
// (top_k_merge.wgsl) picks the k best of those. Each stage's file defines its bindings,
// `item(i)`, the i-th item of the list it selects from, and `store(rank, candidate)`.
// `_rows` entry points select in one invocation per list.

struct Params {
    n: u32,
    k: u32,
}

const LIST_LENGTH: u32 = 1024u;
const THREADS: u32 = 256u;
const MAX_K: u32 = 64u;
const NONE: u32 = 0xffffffffu;

// A value and its index; index NONE: no candidate (past a list shorter than k).
struct Candidate {
    value: f32,
    index: u32,
}

// Whether `a` ranks before `b`: larger value, then lower index; a candidate before none.
fn ranks_before(a: Candidate, b: Candidate) -> bool {
    return a.index != NONE && (b.index == NONE || a.value > b.value
        || (a.value == b.value && a.index < b.index));
}

// Round r's pick in slot r % 3: the largest value's order key (atomicMax), then the
// complement of the lowest index holding it (atomicMax); zero is none. Three slots: a
// round clears the next one, whose last reads were two rounds (four barriers) ago, so a
// round takes two barriers.
var<workgroup> picked_keys: array<atomic<u32>, 3>;
var<workgroup> picked_complements: array<atomic<u32>, 3>;

fn list_count() -> u32 {
    return (params.n + LIST_LENGTH - 1u) / LIST_LENGTH;
}

fn clear_slot(slot: u32) {
    atomicStore(&picked_keys[slot], 0u);
    atomicStore(&picked_complements[slot], 0u);
}

// A u32 ordered as the f32 values are, 0.0 and -0.0 (equal values) alike; above 0 but for
// one NaN.
fn order_key(value: f32) -> u32 {
    var bits = bitcast<u32>(value);
    if ((bits & 0x7fffffffu) == 0u) {
        bits = 0u;
    }
    return select(bits | 0x80000000u, ~bits, (bits & 0x80000000u) != 0u);
}

// The best of this thread's items (thread, thread + THREADS, ... below count) ranked after
// `previous` (index NONE: all of them).
fn thread_best(thread: u32, count: u32, previous: Candidate) -> Candidate {
    var best = Candidate(0.0, NONE);
    for (var i = thread; i < count; i += THREADS) {
        let candidate = item(i);
        let after_previous = previous.index == NONE || ranks_before(previous, candidate);
        if (after_previous && ranks_before(candidate, best)) {
            best = candidate;
        }
    }
    return best;
}

// The k best of `count` items by a workgroup of THREADS: each round picks the best of the
// threads' bests, whose thread alone looks again for its next.
fn select_top_k(thread: u32, count: u32) {
    if (thread == 0u) {  // WGSL zeroes workgroup memory, but lavapipe keeps the last group's
        clear_slot(0u);
    }
    var own = thread_best(thread, count, Candidate(0.0, NONE));
    workgroupBarrier();
    for (var rank = 0u; rank < params.k; rank++) {
        let slot = rank % 3u;
        if (thread == 0u) {
            clear_slot((rank + 1u) % 3u);
        }
        if (own.index != NONE) {
            atomicMax(&picked_keys[slot], order_key(own.value));
        }
        workgroupBarrier();
        if (own.index != NONE && order_key(own.value) == atomicLoad(&picked_keys[slot])) {
            atomicMax(&picked_complements[slot], ~own.index);
        }
        workgroupBarrier();
        let picked = ~atomicLoad(&picked_complements[slot]);
        if (picked == NONE) {
            if (thread == 0u) {
                store(rank, Candidate(0.0, NONE));
            }
        } else if (own.index == picked) {
            store(rank, own);
            own = thread_best(thread, count, own);
        }
    }
}

// The k best of `count` items by one invocation, in a list kept sorted: past the first
// items, most fall short of its last entry at one comparison.
fn select_top_k_serial(count: u32) {
    let k = params.k;
    var best: array<Candidate, MAX_K>;
    for (var rank = 0u; rank < k; rank++) {
        best[rank] = Candidate(0.0, NONE);
    }
    for (var i = 0u; i < count; i++) {
        let candidate = item(i);
        if (!ranks_before(candidate, best[k - 1u])) {
            continue;
        }
        var at = k - 1u;
        // The test inside the loop, not `at > 0u && ranks_before(...)`: Mesa's OpenGL
        // compiler (llvmpipe 22.3) drops entries when that is the loop's condition.
        while (at > 0u) {
            if (!ranks_before(candidate, best[at - 1u])) {
                break;
            }
            best[at] = best[at - 1u];
            at--;
        }
        best[at] = candidate;
    }
    for (var rank = 0u; rank < k; rank++) {
        store(rank, best[rank]);
    }
}
