// Model output and document text as DOM nodes, never as HTML: a small Markdown subset
// (paragraphs, "-"/"*"/"1." lists, `inline code`, fenced code blocks, **bold**, links) built
// with createElement and text nodes, so a `<script>` or an `onerror=` in the text shows as
// the characters it is. Links are kept only when they lead to a page of this site; citations
// [1], [2] become links to the sources' section anchors.
//
//   container.replaceChildren(renderText(markdown, {siteRoot, sources}));

import { siteHref } from "./safe_url.js";

const FENCE = /^\s*(```|~~~)/;
const LIST_ITEM = /^\s*(?:[-*+]|\d{1,3}[.)])\s+(.*)$/;
const ORDERED = /^\s*\d/;
// `code` | [text](href) | [n] | **bold**
const INLINE = /`([^`\n]+)`|\[([^\]\n]+)\]\(([^)\s]+)\)|\[(\d{1,2})\]|\*\*([^*\n]+)\*\*/g;

// A DocumentFragment for `text`; `sources[n - 1].url` (site-relative) is citation [n]'s target.
export function renderText(text, { siteRoot, sources = [] }) {
  const fragment = document.createDocumentFragment();
  for (const block of blocks(text)) fragment.append(renderBlock(block, siteRoot, sources));
  return fragment;
}

// The text cut into {type: "code" | "list" | "paragraph", lines, ordered}.
function blocks(text) {
  const result = [];
  let current = null;
  const close = () => {
    if (current) result.push(current);
    current = null;
  };
  for (const line of text.replace(/\r\n?/g, "\n").split("\n")) {
    if (current?.type === "code") {
      if (FENCE.test(line)) close();
      else current.lines.push(line);
    } else if (FENCE.test(line)) {
      close();
      current = { type: "code", lines: [] };
    } else if (!line.trim()) {
      close();
    } else if (LIST_ITEM.test(line)) {
      if (current?.type !== "list") {
        close();
        current = { type: "list", lines: [], ordered: ORDERED.test(line) };
      }
      current.lines.push(line.match(LIST_ITEM)[1]);
    } else if (current?.type === "list") {
      current.lines[current.lines.length - 1] += ` ${line.trim()}`; // a wrapped item
    } else {
      if (current?.type !== "paragraph") {
        close();
        current = { type: "paragraph", lines: [] };
      }
      current.lines.push(line.trim());
    }
  }
  close();
  return result;
}

function renderBlock(block, siteRoot, sources) {
  if (block.type === "code") {
    const pre = document.createElement("pre");
    const code = document.createElement("code");
    code.textContent = block.lines.join("\n");
    pre.append(code);
    return pre;
  }
  if (block.type === "list") {
    const list = document.createElement(block.ordered ? "ol" : "ul");
    for (const item of block.lines) {
      const li = document.createElement("li");
      appendInline(li, item, siteRoot, sources);
      list.append(li);
    }
    return list;
  }
  const paragraph = document.createElement("p");
  appendInline(paragraph, block.lines.join(" "), siteRoot, sources);
  return paragraph;
}

function appendInline(parent, text, siteRoot, sources) {
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    parent.append(text.slice(last, match.index));
    parent.append(inlineNode(match, siteRoot, sources));
    last = match.index + match[0].length;
  }
  parent.append(text.slice(last));
}

function inlineNode([whole, code, label, href, citation, bold], siteRoot, sources) {
  if (code !== undefined) return withText("code", code);
  if (bold !== undefined) return withText("strong", bold);
  if (citation !== undefined) {
    const source = sources[Number(citation) - 1];
    const target = source && siteHref(source.url, siteRoot);
    if (!target) return whole;
    const link = withText("a", whole);
    link.href = target;
    link.className = "pm-citation";
    link.title = source.breadcrumb || source.heading;
    return link;
  }
  const target = siteHref(href, siteRoot);
  if (!target) return label; // a link off the site keeps only its words
  const link = withText("a", label);
  link.href = target;
  return link;
}

function withText(tag, text) {
  const node = document.createElement(tag);
  node.textContent = text;
  return node;
}
