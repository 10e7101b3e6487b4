// Runs checks against pagemind's runtime core (runtime/session.js) under Node, on Dawn (the
// npm `webgpu` package), the way the browser tests run theirs in the harness page:
// `window.createRuntime()` gives a Session, whose methods are those of the page's runtime,
// and globals set by one check stay for the next, so the same check text runs in both.
//
//   node tests/node/harness.mjs http://127.0.0.1:8000/site/
//   stdin:  one JSON line per check: {"check": "async (data) => ...", "data": ...}
//   stdout: one JSON line per check: {"result": ...} or {"error": "message and stack"}
//
// The site is served over HTTP (Node's fetch reads no file: URLs): models and shaders come
// from it as in a browser; there is no Cache Storage, so every load downloads.

import { webcrypto } from "node:crypto";
import { createInterface } from "node:readline";
import { create, globals } from "webgpu";
import { Session } from "../../runtime/session.js";

Object.assign(globalThis, globals); // GPUBufferUsage, GPUMapMode and the other constants
globalThis.crypto ??= webcrypto; // Node 18 has no global crypto
globalThis.window = globalThis;
console.log = console.error; // stdout carries the results alone

const site = process.argv[2];
const sessions = [];

// A Session whose events (device-lost, ...) reach listeners as the page's runtime sends them.
function createRuntime() {
  const events = new EventTarget();
  const session = new Session({
    gpuApi: create([]),
    baseUrl: site,
    shaderUrl: new URL("_pagemind/shaders/", site),
    onEvent: ({ type, ...detail }) =>
      events.dispatchEvent(Object.assign(new Event(type), { detail })),
  });
  session.addEventListener = events.addEventListener.bind(events);
  sessions.push(session);
  return session;
}
window.createRuntime = async () => createRuntime();

async function answer({ check, data }) {
  const source = `export default ${check}`;
  const { default: run } = await import(`data:text/javascript,${encodeURIComponent(source)}`);
  try {
    return { result: (await run(data)) ?? null };
  } catch (error) {
    return { error: String(error.stack ?? error) };
  }
}

for await (const line of createInterface({ input: process.stdin })) {
  process.stdout.write(`${JSON.stringify(await answer(JSON.parse(line)))}\n`);
}
for (const session of sessions) await session.close();
process.exit(0); // Dawn's threads would keep the process alive
