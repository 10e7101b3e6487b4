// WebGPU setup: the adapter's real limits (a model's tensors are bound whole, far above
// WebGPU's defaults), the subgroups and shader-f16 features when offered, whether the adapter
// runs on the CPU, and device loss reported.

export class GpuUnavailable extends Error {
  name = "GpuUnavailable";
}

// Limits a model needs above the defaults; requested at the adapter's own values.
const LIMITS = ["maxStorageBufferBindingSize", "maxBufferSize", "maxComputeWorkgroupsPerDimension"];

// Returns {device, subgroups, f16, cpu, limits, adapter: description, close()}. `gpuApi` is the
// GPU entry point (navigator.gpu in browsers; `create()` of the npm webgpu package in Node).
// `onLost(message)` is called when the device is lost for any reason but close(), so the
// caller can reload: a driver reset, or a destroy() that was not ours to make.
export async function openGpu({ gpuApi = globalThis.navigator?.gpu, onLost } = {}) {
  if (!gpuApi) {
    throw new GpuUnavailable(
      "this browser has no WebGPU (navigator.gpu is missing): use a recent Chrome, Edge or " +
        "Safari, or enable WebGPU in the browser settings",
    );
  }
  const adapter = await gpuApi.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) {
    throw new GpuUnavailable(
      "WebGPU is present but offers no GPU adapter (the GPU may be blocklisted or disabled)",
    );
  }
  const subgroups = adapter.features.has("subgroups");
  const f16 = adapter.features.has("shader-f16");
  const limits = Object.fromEntries(LIMITS.map((name) => [name, adapter.limits[name]]));
  const device = await adapter.requestDevice({
    requiredFeatures: [...(subgroups ? ["subgroups"] : []), ...(f16 ? ["shader-f16"] : [])],
    requiredLimits: limits,
  });
  let closed = false;
  device.lost.then((info) => {
    if (!closed) onLost?.(`the GPU device was lost (${info.reason}: ${info.message})`);
  });
  const { vendor, architecture, description } = adapter.info ?? {};
  const name = [vendor, architecture, description].filter(Boolean).join(" ");
  const cpu = isCpuAdapter(adapter, name);
  const close = () => {
    closed = true;
    device.destroy();
  };
  return { device, subgroups, f16, cpu, limits, adapter: name || "unknown adapter", close };
}

// A software adapter (SwiftShader), where barriers are costly: the executor then takes the
// barrier-free kernel variants. isFallbackAdapter moved from the adapter to adapter.info.
function isCpuAdapter(adapter, name) {
  const fallback = adapter.info?.isFallbackAdapter ?? adapter.isFallbackAdapter;
  return Boolean(fallback) || /swiftshader/i.test(name);
}

// Throws a clear error before WebGPU would fail with a validation message.
export function checkFits(gpu, what, bytes, { bound = true } = {}) {
  const limit = bound ? "maxStorageBufferBindingSize" : "maxBufferSize";
  if (bytes > gpu.limits[limit]) {
    throw new GpuUnavailable(
      `${what} needs ${bytes} bytes, more than this GPU's ${limit} of ${gpu.limits[limit]}: ` +
        "choose a smaller model for the site",
    );
  }
}
