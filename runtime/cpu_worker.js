// The Web Worker that embeds queries on the CPU (cpu_embedder.js) where WebGPU is missing,
// so the page never freezes for the few hundred milliseconds a query takes.
//
// Messages in (each carries `request`, echoed in the replies):
//   {type: "load", manifestUrl}  -> progress {loaded, total, source} ... warning ... ready | error
//   {type: "embed", text}        -> vector {vector: Float32Array} | error

import { CpuEmbedder } from "./cpu_embedder.js";

let embedder = null; // promise of the CpuEmbedder

const HANDLERS = {
  async load({ manifestUrl }, reply) {
    embedder ??= CpuEmbedder.load(manifestUrl, {
      onProgress: ({ loaded, total, source }) => reply({ type: "progress", loaded, total, source }),
      onWarning: (message) => reply({ type: "warning", message }),
    });
    embedder.catch(() => (embedder = null)); // the next load tries again
    await embedder;
    reply({ type: "ready" });
  },
  async embed({ text }, reply) {
    if (!embedder) throw new Error("the embedder is not loaded");
    const vector = (await embedder).embed(text);
    reply({ type: "vector", vector }, [vector.buffer]);
  },
};

self.onmessage = async ({ data }) => {
  const reply = (event, transfer = []) => {
    postMessage({ request: data.request, ...event }, transfer);
  };
  try {
    await HANDLERS[data.type](data, reply);
  } catch (error) {
    reply({ type: "error", message: String(error.message ?? error) });
  }
};
