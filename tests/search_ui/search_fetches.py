"""What the search box fetches for a query, read from the page's resource timing: the test of
its first results and bench/search_payload.py share it."""

from __future__ import annotations

# Types `query` into the search box in one input event; resolves, once its first results
# (or none) show, with the files fetched from the focus on: [{path (site-relative), bytes (body)}].
FIRST_RESULTS = """async ([query, root]) => {
  performance.setResourceTimingBufferSize(100000);
  const list = document.querySelector("#pagemind-search-results");
  const input = document.querySelector("#pagemind-search-input");
  const shown = new Promise((resolve, reject) => {
    const observer = new MutationObserver(() => {
      if (list.dataset.query === query) resolve(performance.now(), observer.disconnect());
    });
    observer.observe(list, { childList: true, subtree: true, attributes: true });
    setTimeout(() => reject(new Error(`no results for ${query}`)), 60000);
  });
  const start = performance.now();
  input.focus();
  input.value = query;
  input.dispatchEvent(new Event("input", { bubbles: true }));
  const end = await shown;
  return performance.getEntriesByType("resource")
    .filter((entry) => entry.startTime >= start && entry.startTime <= end)
    .map((entry) => ({ path: entry.name.slice(root.length), bytes: entry.encodedBodySize }));
}"""
