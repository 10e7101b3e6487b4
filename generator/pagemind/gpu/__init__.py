"""WebGPU side of pagemind's build: the WGSL kernel registry and a wgpu-py runner for checks."""
