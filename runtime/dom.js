// Small DOM helpers shared by the page's features.

// An element with attributes and children (strings become text nodes, never HTML).
export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

// A download size as readers read it: "45.5 MB".
export function megabytes(bytes) {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}
