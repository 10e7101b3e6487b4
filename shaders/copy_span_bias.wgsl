// Copy-span bias: an answer that has started to quote its sources is pushed to go on quoting
// them as they are written. Of the answer's last tokens (1 to MAX_MATCH), the longest tail
// found in `source` (the ids of the texts the answer may copy from, SEPARATOR after each)
// wins; every token that follows it there gets `strength` added to its logit, once however
// often it follows, so a phrase under way outweighs a single common word. The answer's start
// is a token of its own, ANSWER_START, which the source puts before the openings (texts the
// answer is pushed to start with). Runs after the logit bias and before top_k, as
// pagemind.models.generate.add_copy_span_bias.
//
// `source`: [0] n_source (at most MAX_SOURCE), [1] strength as f32 bits, then the ids; all
// zeros adds nothing and leaves the logits bit for bit. `tail`: [0] its length, then the
// answer's last tokens, oldest first; a prefill (answer_token 0: the answer starts) leaves
// ANSWER_START alone in it, a decode appends the token it embeds (`chosen[0]`), so only
// this kernel writes it.
// One workgroup: every position of the (short) source must be seen to find the longest
// match. A token is added by the first position it follows with the longest match only:
// no two threads write one logit, and no list of tokens needs room.

const THREADS: u32 = 256u;
const MAX_MATCH: u32 = 4u;
const MAX_SOURCE: u32 = 2048u;
const SEPARATOR: u32 = 0xffffffffu;
const ANSWER_START: u32 = 0xfffffffeu; // ids from here on are markers, never tokens
const IDS: u32 = 2u; // source[IDS + i]: the i-th source id

struct Params {
    answer_token: u32,
}

@group(0) @binding(0) var<storage, read> source: array<u32>;
@group(0) @binding(1) var<storage, read_write> tail: array<u32>;
@group(0) @binding(2) var<storage, read> chosen: array<u32>;
@group(0) @binding(3) var<storage, read_write> logits: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

var<workgroup> answer: array<u32, MAX_MATCH>;
var<workgroup> answer_length: u32;
var<workgroup> longest: atomic<u32>;

// The tail after this step: ANSWER_START alone (prefill), or with chosen[0] appended
// (decode), the oldest token dropped past MAX_MATCH; written back and kept in `answer`.
fn update_tail() {
    answer[0] = ANSWER_START;
    var length = 1u;
    if (params.answer_token != 0u) {
        let stored = min(tail[0], MAX_MATCH);
        let kept = min(stored, MAX_MATCH - 1u);
        for (var i = 0u; i < kept; i++) {
            answer[i] = tail[1u + stored - kept + i];
        }
        answer[kept] = chosen[0];
        length = kept + 1u;
    }
    for (var i = 0u; i < length; i++) {
        tail[1u + i] = answer[i];
    }
    tail[0] = length;
    answer_length = length;
}

// How many of the answer's last tokens equal the source ids ending at `end`, read backwards.
fn match_length(end: u32) -> u32 {
    var length = 0u;
    while (length < answer_length && length <= end
            && source[IDS + end - length] == answer[answer_length - 1u - length]) {
        length++;
    }
    return length;
}

// The id after `end`: a token, or a marker where a text ends (SEPARATOR) or an opening
// starts (ANSWER_START).
fn following(end: u32) -> u32 {
    return source[IDS + end + 1u];
}

// Whether a position before `end` has the same longest match and following id: that one adds.
fn added_before(end: u32, token: u32, best: u32) -> bool {
    for (var j = 0u; j < end; j++) {
        if (following(j) == token && match_length(j) == best) {
            return true;
        }
    }
    return false;
}

@compute @workgroup_size(THREADS)
fn copy_span_bias(@builtin(local_invocation_index) lid: u32) {
    if (lid == 0u) {
        update_tail();
        atomicStore(&longest, 0u); // not every executor zeroes workgroup memory (lavapipe)
    }
    workgroupBarrier();
    let n_source = min(source[0], MAX_SOURCE);
    for (var end = lid; end + 1u < n_source; end += THREADS) {
        if (following(end) < ANSWER_START) {
            atomicMax(&longest, match_length(end));
        }
    }
    workgroupBarrier();
    let best = atomicLoad(&longest);
    if (best == 0u) {
        return;
    }
    let strength = bitcast<f32>(source[1]);
    for (var end = lid; end + 1u < n_source; end += THREADS) {
        let token = following(end);
        if (token < ANSWER_START && match_length(end) == best && !added_before(end, token, best)) {
            logits[token] += strength;
        }
    }
}
