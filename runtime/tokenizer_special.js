// Literal tokens (such as "<|im_end|>" or "[SEP]") found whole in raw text before any other
// step, as the `tokenizers` library's added vocabulary finds them: leftmost, and the longest
// token where several start at the same place.

/**
 * @param {Array<[string, number]>} tokens content and id of each literal token
 * @returns {(text: string) => Array<string | number>} the text cut into plain strings and the
 *   ids of the literal tokens between them
 */
export function literalTokenSplitter(tokens) {
  const ids = new Map(tokens.filter(([content]) => content.length > 0));
  if (ids.size === 0) return (text) => (text ? [text] : []);
  // Alternatives are tried in order, so longest first makes the leftmost match the longest.
  const longestFirst = [...ids.keys()].sort((a, b) => b.length - a.length);
  const pattern = new RegExp(longestFirst.map(escapeRegExp).join("|"), "gu");
  return (text) => {
    const parts = [];
    let end = 0;
    for (const match of text.matchAll(pattern)) {
      if (match.index > end) parts.push(text.slice(end, match.index));
      parts.push(ids.get(match[0]));
      end = match.index + match[0].length;
    }
    if (end < text.length) parts.push(text.slice(end));
    return parts;
  };
}

function escapeRegExp(text) {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");
}
