// "Report a gap": a link that opens a new issue on the site's repository (its repo_url),
// prefilled with the question, the page, the sources and the answer. Nothing is sent: the
// reader reads the issue on the host and submits it there, or not. Only https repositories
// on GitHub or GitLab get a link; source and page URLs pass safe_url.js.
//
//   reportHref("https://github.com/owner/docs", {question, page, sources, answer}, site.root)
//   // "https://github.com/owner/docs/issues/new?title=…&body=…", or null

import { siteHref } from "./safe_url.js";

// Hosts refuse longer URLs (GitHub answers 414 past about 8 KB).
export const MAX_URL = 6000;
const TITLE_CHARS = 80;

// The host's new-issue form and its fields, by host name.
function issueForm(repo) {
  if (repo.hostname === "github.com") return { path: "/issues/new", title: "title", body: "body" };
  if (repo.hostname === "gitlab.com" || repo.hostname.startsWith("gitlab.")) {
    return { path: "/-/issues/new", title: "issue[title]", body: "issue[description]" };
  }
  return null;
}

// The repository as a URL (https, owner and name, no ".git"), or null.
function repository(repoUrl) {
  let repo;
  try {
    repo = new URL(repoUrl);
  } catch {
    return null;
  }
  repo.pathname = repo.pathname.replace(/\/+$/, "").replace(/\.git$/, "");
  const named = repo.pathname.split("/").filter(Boolean).length >= 2;
  const plain = !repo.username && !repo.password && !repo.search && !repo.hash;
  return repo.protocol === "https:" && named && plain ? repo : null;
}

export function reportHref(repoUrl, { question, page, sources, answer }, siteRoot) {
  const repo = repository(repoUrl);
  const form = repo && issueForm(repo);
  if (!form) return null;
  const title = `Docs gap: ${cut(question, TITLE_CHARS)}`;
  const href = (parts) => {
    const url = new URL(repo.href + form.path);
    url.searchParams.set(form.title, title);
    url.searchParams.set(form.body, body({ ...parts, page: siteHref(page, siteRoot) }, siteRoot));
    return url.href;
  };
  // Too long: the answer is cut first, then the sources from the last, then the question.
  const parts = { question, sources, answer };
  const fits = (change) => href({ ...parts, ...change }).length <= MAX_URL;
  parts.answer = longestCut(answer, (cutAnswer) => fits({ answer: cutAnswer }));
  while (!fits({}) && parts.sources.length) parts.sources = parts.sources.slice(0, -1);
  parts.question = longestCut(question, (cutQuestion) => fits({ question: cutQuestion }));
  return fits({}) ? href(parts) : null;
}

// The longest cut of `text` that `fits` (a binary search), or "".
function longestCut(text, fits) {
  if (fits(text)) return text;
  let [low, high] = [0, text.length]; // a cut to `low` characters fits, to `high` does not
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (fits(cut(text, middle))) low = middle;
    else high = middle;
  }
  return cut(text, low);
}

// `text` in at most `chars` characters, an ellipsis marking the cut.
function cut(text, chars) {
  if (text.length <= chars) return text;
  return chars < 2 ? "" : `${text.slice(0, chars - 1)}…`;
}

function body({ question, page, sources, answer }, siteRoot) {
  const links = sources.map((source) => {
    const label = source.breadcrumb || source.heading;
    const target = siteHref(source.url, siteRoot);
    return target ? `- [${label}](${target})` : `- ${label}`;
  });
  const quoted = (answer || "(no answer)").split("\n").map((line) => `> ${line}`);
  return [
    "The assistant did not answer this question well from the docs.",
    "",
    `**Question:** ${question}`,
    `**Page:** ${page ?? "(unknown)"}`,
    "",
    "**Sources it used:**",
    ...(links.length ? links : ["(none)"]),
    "",
    "**Its answer:**",
    ...quoted,
  ].join("\n");
}
