// Every page loads this module: it mounts the features whose slot the page has. One that
// fails to start is reported in the console and leaves the others working.

import { loadSite } from "./site.js";

const FEATURES = [
  ["#pagemind-search", "./search_box.js"],
  ["#pagemind-assistant", "./panel.js"],
  ["body", "./offline.js"],
];

const site = loadSite();
for (const [selector, module] of FEATURES) {
  const slot = document.querySelector(selector);
  if (!slot) continue;
  import(module)
    .then((feature) => feature.mount(slot, site))
    .catch((error) => console.error(`pagemind: ${module} failed to start:`, error));
}
