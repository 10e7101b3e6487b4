// The Web Worker that owns the GPU, so the page never freezes while a model runs: a thin
// message layer over Session (session.js), the runtime's core.
//
// Messages in (each may carry `request`, echoed in the replies; `model` names a loaded model,
// default "generator"):
//   {type: "load", model, manifestUrl, programUrl}  -> progress {loaded, total} ... ready | error
//   {type: "generate", model, prompt: ids or text, settings}  -> token {token, text} ... done
//   {type: "stop"}                    ends the running generation (its done says "stopped")
//   {type: "embed", model, texts: strings or id lists}  -> vectors {vectors}
//   {type: "use-adapter", model, manifestUrl or null}  -> adapter {adapter}: a LoRA adapter on
//                                    (its package's manifest) or off (null)
//   {type: "read", model, buffer}    -> buffer {data: ArrayBuffer} (debugging and tests)
//   {type: "lose-device"}            destroys the GPU device, to test recovery -> device-lost
// Without a request: a lost GPU device is re-created and every model reloaded (from Cache
// Storage): device-lost {message}, then device-restored {models} or device-failed {message}.

import { Session } from "./session.js";

const session = new Session({ onEvent: (event) => postMessage(event) });

const HANDLERS = {
  async load(data, reply) {
    const info = await session.load(
      data,
      ({ loaded, total, source }) => reply({ type: "progress", loaded, total, source }),
      (message) => reply({ type: "warning", message }),
    );
    reply({ type: "ready", ...info });
  },
  async generate({ prompt, settings, model }, reply) {
    const onToken = (token, text) => reply({ type: "token", token, text });
    reply({ type: "done", ...(await session.generate(prompt, settings, onToken, { model })) });
  },
  async embed({ texts, model }, reply) {
    const vectors = await session.embed(texts, { model });
    reply(
      { type: "vectors", vectors },
      vectors.map((vector) => vector.buffer),
    );
  },
  async "use-adapter"({ manifestUrl, model }, reply) {
    reply({ type: "adapter", ...(await session.useAdapter(manifestUrl, { model })) });
  },
  async read({ buffer, model }, reply) {
    const data = await session.debugRead(buffer, { model });
    reply({ type: "buffer", data }, [data]);
  },
  async "lose-device"(data, reply) {
    await session.debugLoseDevice();
    reply({ type: "device-destroyed" });
  },
};

self.onmessage = async ({ data }) => {
  const reply = (event, transfer = []) => {
    postMessage({ request: data.request, ...event }, transfer);
  };
  if (data.type === "stop") {
    session.stop();
    return;
  }
  try {
    const handler = HANDLERS[data.type];
    if (!handler) throw new Error(`unknown message type ${data.type}`);
    await handler(data, reply);
  } catch (error) {
    reply({ type: "error", message: String(error.message ?? error) });
  }
};
