// The one check every URL from the search index, the model or the docs passes before it
// reaches an href or location: only http(s) URLs of this site (same origin, under its base
// path) are followed, so a `javascript:` URL, another origin or a malformed URL never is.
//
//   siteHref("guide/c%23/#usage", site.root)     // absolute URL, or null when refused
//   siteLink("guide/", site.root, {}, "Guide")   // an <a>, with no href when refused

import { element } from "./dom.js";

export function siteHref(href, siteRoot) {
  let url;
  try {
    url = new URL(href, siteRoot);
  } catch {
    return null;
  }
  const root = new URL(siteRoot);
  const onSite = url.origin === root.origin && url.pathname.startsWith(root.pathname);
  return onSite && /^https?:$/.test(url.protocol) ? url.href : null;
}

// A link to `href` when it passes siteHref; otherwise the same element without a target,
// so its words still show.
export function siteLink(href, siteRoot, attributes, ...children) {
  const target = siteHref(href, siteRoot);
  return element("a", target ? { ...attributes, href: target } : attributes, ...children);
}
