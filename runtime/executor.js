// Executes a compiled program (pagemind.gpu.program_format): every buffer, shader module,
// pipeline and bind group is made once at load; a run writes the uniforms that depend on
// the phase variables and records the whole phase into one command encoder, one submit.
// A program compiled with adapters (pagemind.gpu.program) marks steps that run only while an
// adapter is on (`adapter: true`: the products that add B (A x)) or only while none is
// (`adapter: false`: the same products without it, so the base model keeps its dispatches).
// useAdapter writes that adapter's tensors into the buffers they read, so switching adapters
// neither rebuilds a pipeline or bind group nor touches the base model's buffers.

import { compileExpression } from "./expression.js";
import { checkFits } from "./gpu.js";

// GPUBufferUsage is read only once a device exists: a host without WebGPU lacks it, and must
// still load this module to hear openGpu's explanation.
const usage = (...flags) => flags.reduce((all, flag) => all | GPUBufferUsage[flag], 0);
const roundUp = (bytes, multiple) => Math.ceil(bytes / multiple) * multiple;

// The variant of a module this device runs: barrier-free `rows` on CPU adapters, else the
// f16 one where the device has shader-f16, else the subgroup one where offered, else the
// plain one.
const variantOf = (gpu, module) =>
  (gpu.cpu && module.rows) ||
  (gpu.f16 && module.f16) ||
  (gpu.subgroups && module.subgroups) ||
  module;

// Whether a program step runs while an adapter is on (`adapterOn`) or while none is.
export const stepRuns = (step, adapterOn) => (step.adapter ?? adapterOn) === adapterOn;

// Each distinct WGSL file fetched once; a module is its files joined as KernelSpec.source does.
async function fetchSources(gpu, program, shaderUrl) {
  const modules = Object.values(program.modules).map((module) => variantOf(gpu, module));
  const names = [...new Set(modules.flatMap((m) => m.files))];
  const texts = await Promise.all(
    names.map(async (name) => {
      const response = await fetch(new URL(name, shaderUrl));
      if (!response.ok) throw new Error(`shader ${name} could not be loaded (${response.status})`);
      return [name, await response.text()];
    }),
  );
  return Object.fromEntries(texts);
}

// Runs `work` as the load phase `phase`; a caller that times a load passes its own (see
// session.js phaseTimer).
export const untimed = (phase, work) => work();

// Every pipeline the program runs, compiled from its shaders: needs no weights, so a load
// compiles them while the shards download (Executor.create takes them).
export async function compilePipelines(gpu, program, shaderUrl, time = untimed) {
  if (program.format !== "pagemind-program/1") {
    throw new Error(`not a pagemind-program/1 program (format ${program.format})`);
  }
  const sources = await time("shaders", () => fetchSources(gpu, program, shaderUrl));
  return createPipelines(gpu, program, sources, time);
}

// Per device, the pipeline of each distinct (WGSL code, entry point), created once: modules
// of two programs, or of one program under two names, that run the same code share it.
const pipelineCaches = new WeakMap();

function sharedPipeline(device, label, code, entryPoint) {
  if (!pipelineCaches.has(device)) pipelineCaches.set(device, new Map());
  const cache = pipelineCaches.get(device);
  const key = `${entryPoint}\n${code}`;
  if (cache.has(key)) return { pipeline: cache.get(key), created: false };
  // Asynchronous: the driver compiles the pipelines side by side, off this thread.
  const module = device.createShaderModule({ label, code });
  const compute = { module, entryPoint };
  const pipeline = device.createComputePipelineAsync({ label, layout: "auto", compute });
  pipeline.catch(() => cache.delete(key)); // a failure is not kept for the next load
  cache.set(key, pipeline);
  return { pipeline, created: true };
}

async function createPipelines(gpu, program, sources, time) {
  const keys = Object.keys(program.modules);
  const requested = time(
    "shader modules",
    () =>
      keys.map((key) => {
        const variant = variantOf(gpu, program.modules[key]);
        const code = variant.files.map((name) => sources[name]).join("\n");
        return sharedPipeline(gpu.device, key, code, variant.entry_point);
      }),
    (all) => ({ created: all.filter(({ created }) => created).length }),
  );
  const pipelines = await time("pipelines", () =>
    Promise.all(requested.map(({ pipeline }) => pipeline)),
  );
  return Object.fromEntries(keys.map((key, index) => [key, pipelines[index]]));
}

// Model tensors are bound as sub-ranges of their shard's buffer (offsets are 256-aligned);
// a tensor split across shards gets its own buffer, assembled by GPU copies.
function uploadShards(gpu, allocate, manifest, shards) {
  return shards.map((bytes, index) => {
    const what = `model shard ${manifest.shards[index].file}`;
    checkFits(gpu, what, bytes.length, { bound: false });
    const buffer = allocate({
      label: what,
      size: roundUp(bytes.length, 4),
      usage: usage("STORAGE", "COPY_SRC"),
      mappedAtCreation: true,
    });
    new Uint8Array(buffer.getMappedRange()).set(bytes);
    buffer.unmap();
    return buffer;
  });
}

function tensorRange(gpu, allocate, manifest, shardBuffers, name, encoder) {
  const entry = manifest.tensors[name];
  if (!entry) throw new Error(`the program needs tensor ${name}, which the manifest lacks`);
  checkFits(gpu, `tensor ${name}`, entry.bytes);
  const size = roundUp(entry.bytes, 4);
  if (!entry.parts) return { buffer: shardBuffers[entry.shard], offset: entry.offset, size };
  const buffer = allocate({ label: name, size, usage: usage("STORAGE", "COPY_DST") });
  let target = 0;
  for (const part of entry.parts) {
    const bytes = roundUp(part.bytes, 4); // a part that is not the last ends on a shard's end
    encoder.copyBufferToBuffer(shardBuffers[part.shard], part.offset, buffer, target, bytes);
    target += part.bytes;
  }
  return { buffer, offset: 0, size };
}

function createBuffers(gpu, allocate, program, manifest, shardBuffers) {
  const encoder = gpu.device.createCommandEncoder();
  const ranges = {};
  for (const [name, spec] of Object.entries(program.buffers)) {
    if (spec.tensor && !spec.adapter) {
      ranges[name] = tensorRange(gpu, allocate, manifest, shardBuffers, spec.tensor, encoder);
      continue;
    }
    checkFits(gpu, `buffer ${name}`, spec.bytes);
    const size = Math.max(4, roundUp(spec.bytes, 4));
    const flags = usage("STORAGE", "COPY_SRC", "COPY_DST");
    const buffer = allocate({ label: name, size, usage: flags });
    ranges[name] = { buffer, offset: 0, size };
  }
  gpu.device.queue.submit([encoder.finish()]);
  return ranges;
}

// WebGPU's largest minUniformBufferOffsetAlignment: every device binds uniforms at its
// multiples.
const UNIFORM_SLOT = 256;
const isVariable = (step) => step.uniforms.some((u) => typeof u.value === "string");

// A phase's uniforms in one buffer, a slot per step, the steps whose values depend on the
// phase variables first: a run rewrites only those, in one writeBuffer. (A write per step
// cost a decode step more CPU time than recording all its dispatches.)
class PhaseUniforms {
  constructor(allocate, name, steps) {
    const order = [...steps.keys()].sort((a, b) => isVariable(steps[b]) - isVariable(steps[a]));
    this.slots = new Map(order.map((index, slot) => [index, slot * UNIFORM_SLOT]));
    this.variableBytes = steps.filter(isVariable).length * UNIFORM_SLOT;
    this.bytes = new ArrayBuffer(Math.max(1, steps.length) * UNIFORM_SLOT);
    const size = this.bytes.byteLength;
    this.buffer = allocate({ label: `${name} uniforms`, size, usage: usage("UNIFORM", "COPY_DST") });
    this.written = false;
  }

  // Step `index`'s slot: a view to write its values into, and the range to bind.
  slot(index, step) {
    const offset = this.slots.get(index);
    const size = roundUp(4 * step.uniforms.length, 16) || 16;
    const view = new DataView(this.bytes, offset, size);
    return { view, range: { buffer: this.buffer, offset, size } };
  }

  // Sends the values set since the last write: all of them the first time.
  write(queue) {
    const size = this.written ? this.variableBytes : this.bytes.byteLength;
    if (size) queue.writeBuffer(this.buffer, 0, this.bytes, 0, size);
    this.written = true;
  }
}

// A step ready to record: its uniform values are recomputed only when they depend on the
// phase variables; workgroup counts are expressions of the step's uniform values (the
// module variant's own counts where it has them).
class PreparedStep {
  constructor(gpu, step, variant, pipeline, ranges, uniforms) {
    this.step = step;
    this.pipeline = pipeline;
    this.uniformValues = step.uniforms.map((u) => compileExpression(u.value));
    this.variable = isVariable(step);
    this.workgroupCounts = (variant.workgroups ?? step.workgroups).map(compileExpression);
    this.view = uniforms.view;
    this.bindGroup = gpu.device.createBindGroup({
      label: step.kernel,
      layout: pipeline.getBindGroupLayout(0),
      entries: step.bindings.map((binding) => ({
        binding: binding.slot,
        resource: binding.uniforms ? uniforms.range : ranges[binding.buffer],
      })),
    });
    this.workgroups = null;
    this.maxWorkgroups = gpu.limits.maxComputeWorkgroupsPerDimension;
  }

  // Sets the uniforms for `variables` in the phase's buffer (once only when none depends
  // on them).
  update(variables) {
    if (this.workgroups && !this.variable) return;
    const values = {};
    this.step.uniforms.forEach((uniform, index) => {
      const value = this.uniformValues[index](variables);
      values[uniform.name] = value;
      if (uniform.type === "u32") this.view.setUint32(4 * index, value, true);
      else this.view.setFloat32(4 * index, value, true);
    });
    this.workgroups = this.workgroupCounts.map((count) => Math.trunc(count(values)));
    const most = Math.max(...this.workgroups);
    if (most > this.maxWorkgroups) {
      throw new Error(
        `kernel ${this.step.kernel} needs ${most} workgroups in one dimension, more than ` +
          `this GPU's maxComputeWorkgroupsPerDimension of ${this.maxWorkgroups}: ` +
          "compile the program with fewer tokens per run",
      );
    }
  }
}

// A small mappable buffer that a run fills with the first bytes of a program buffer, e.g.
// a decode step's chosen token id. Its owner destroys it; it takes a copy again only once
// its read has resolved.
class ReadSlot {
  constructor(device, source, range, bytes) {
    this.source = source;
    this.range = range;
    this.bytes = bytes;
    const size = roundUp(bytes, 4);
    const flags = usage("MAP_READ", "COPY_DST");
    this.buffer = device.createBuffer({ label: `read ${source}`, size, usage: flags });
  }

  record(encoder) {
    const { buffer, offset } = this.range;
    encoder.copyBufferToBuffer(buffer, offset, this.buffer, 0, this.buffer.size);
  }

  // The bytes copied by the run that named this slot; call once per such run.
  async read() {
    await this.buffer.mapAsync(GPUMapMode.READ);
    const copy = this.buffer.getMappedRange().slice(0, this.bytes);
    this.buffer.unmap();
    return copy;
  }

  destroy() {
    this.buffer.destroy();
  }
}

export class Executor {
  // `shaderUrl`: the folder holding the WGSL files the program's modules name.
  // `pipelines`: compilePipelines(gpu, program, shaderUrl).
  static create(gpu, program, manifest, shards, pipelines, time = untimed) {
    const owned = []; // every buffer made here, destroyed with the executor
    const allocate = (descriptor) => {
      owned.push(gpu.device.createBuffer(descriptor));
      return owned.at(-1);
    };
    const shardBuffers = time("upload", () => uploadShards(gpu, allocate, manifest, shards));
    const ranges = time("buffers", () =>
      createBuffers(gpu, allocate, program, manifest, shardBuffers),
    );
    const prepare = (name, { steps }) => {
      const uniforms = new PhaseUniforms(allocate, name, steps);
      const prepared = steps.map((step, index) => {
        const variant = variantOf(gpu, program.modules[step.module]);
        const slot = uniforms.slot(index, step);
        return new PreparedStep(gpu, step, variant, pipelines[step.module], ranges, slot);
      });
      const runsWith = (on) => prepared.filter((step) => stepRuns(step.step, on));
      const bySetting = { on: runsWith(true), off: runsWith(false) };
      return [name, { steps: prepared, bySetting, uniforms }];
    };
    const phases = time("bind groups", () =>
      Object.fromEntries(Object.entries(program.phases).map(([name, p]) => prepare(name, p))),
    );
    return new Executor(gpu, program, ranges, phases, owned);
  }

  constructor(gpu, program, ranges, phases, owned) {
    this.gpu = gpu;
    this.program = program;
    this.ranges = ranges;
    this.phases = phases;
    this.owned = owned;
    this.readSlots = {};
    this.adapterOn = false;
  }

  get hasAdapterSteps() {
    return Object.values(this.program.buffers).some((spec) => spec.adapter);
  }

  // Runs the adapter steps with the tensors of `adapter` ({manifest, shards}, as loadModel
  // gives an adapter package), or none of them (null): the base model alone.
  useAdapter(adapter) {
    if (adapter) {
      for (const [name, spec] of Object.entries(this.program.buffers)) {
        if (spec.adapter) this.writeTensor(name, spec, adapter);
      }
    }
    this.adapterOn = Boolean(adapter);
  }

  writeTensor(name, spec, { manifest, shards }) {
    const entry = manifest.tensors[spec.tensor];
    if (!entry || entry.bytes !== spec.bytes || entry.parts) {
      throw new Error(
        `adapter ${manifest.name} does not fit this model's program (tensor ${spec.tensor}): ` +
          "the site's files are mixed from two builds; rebuild and redeploy",
      );
    }
    const { buffer, offset } = this.ranges[name];
    const bytes = shards[entry.shard].subarray(entry.offset, entry.offset + entry.bytes);
    this.gpu.device.queue.writeBuffer(buffer, offset, bytes);
  }

  bytesOf(name) {
    return this.program.buffers[name].bytes;
  }

  write(name, typedArray) {
    const { buffer, offset } = this.ranges[name];
    this.gpu.device.queue.writeBuffer(buffer, offset, typedArray);
  }

  // A slot for the first `bytes` of program buffer `name`, to hand to run() (see ReadSlot).
  readSlot(name, bytes = this.bytesOf(name)) {
    return new ReadSlot(this.gpu.device, name, this.ranges[name], bytes);
  }

  // Runs the phase in one submit; `slot`, if given, takes a copy of its buffer at the end.
  run(phase, variables, slot = null) {
    if (!this.phases[phase]) throw new Error(`the program has no ${phase} phase`);
    const { steps: allSteps, bySetting, uniforms } = this.phases[phase];
    const steps = bySetting[this.adapterOn ? "on" : "off"];
    const missing = this.program.phases[phase].variables.filter((name) => !(name in variables));
    if (missing.length) throw new Error(`phase ${phase} needs ${missing.join(", ")}`);
    const { queue } = this.gpu.device;
    // Every step, those of an adapter that is off too: the phase's uniforms are written
    // whole only once, so each slot must hold its values before then.
    for (const step of allSteps) step.update(variables);
    uniforms.write(queue);
    queue.submit([this.record(steps, slot)]);
  }

  // A command buffer running prepared `steps` (a phase's, with their uniforms written) in one
  // compute pass; `slot`, if given, takes a copy of its buffer at the end.
  record(steps, slot = null) {
    const encoder = this.gpu.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    for (const step of steps) {
      pass.setPipeline(step.pipeline);
      pass.setBindGroup(0, step.bindGroup);
      pass.dispatchWorkgroups(...step.workgroups);
    }
    pass.end();
    slot?.record(encoder);
    return encoder.finish();
  }

  // The first `bytes` of a buffer, copied into a slot kept for the next read of that buffer.
  async read(name, bytes = this.bytesOf(name)) {
    let slot = this.readSlots[name];
    if (!slot || slot.bytes < bytes) {
      slot?.destroy();
      slot = this.readSlots[name] = this.readSlot(name, bytes);
    }
    const encoder = this.gpu.device.createCommandEncoder();
    slot.record(encoder);
    this.gpu.device.queue.submit([encoder.finish()]);
    return (await slot.read()).slice(0, bytes);
  }

  // Frees this program's GPU memory; the device stays for other models.
  destroy() {
    for (const buffer of this.owned) buffer.destroy();
    for (const slot of Object.values(this.readSlots)) slot.destroy();
  }
}
