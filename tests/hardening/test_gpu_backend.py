"""The GPU checks on wgpu's OpenGL backend (Mesa's llvmpipe through EGL on a machine without a
GPU), one clear error when no adapter or a wrong kernel is found, and `gh-deploy --no-check`.

The CLI runs in a subprocess wherever WGPU_BACKEND_TYPE must choose the backend: wgpu-native
reads it once, when the process first asks for an adapter."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import wgpu
from pagemind.gpu.device import GpuDevice, device_on
from pagemind.gpu.kernel_checks import KernelCase, check_kernel
from pagemind.gpu.runner import KernelRunner
from pagemind.resources import resource_dir
from site_helpers import tiny_assistant_site

pytestmark = pytest.mark.gpu

# A backend wgpu-native is not built with on this platform: no adapter can be found.
MISSING_BACKEND = "D3D12" if sys.platform == "darwin" else "Metal"


@pytest.fixture(scope="module")
def opengl() -> GpuDevice:
    adapters = [
        adapter
        for adapter in wgpu.gpu.enumerate_adapters_sync()
        if adapter.info["backend_type"] == "OpenGL"
    ]
    if not adapters:
        pytest.skip("wgpu-py finds no OpenGL adapter here (Mesa's EGL and GL drivers give one)")
    return device_on(adapters[0])


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return tiny_assistant_site(tmp_path / "site-src")


def pagemind(*args: str | Path, cwd: Path | None = None, backend: str | None = None):
    env = {key: value for key, value in os.environ.items() if key != "WGPU_BACKEND_TYPE"}
    if backend:
        env["WGPU_BACKEND_TYPE"] = backend
    command = [sys.executable, "-m", "pagemind", *map(str, args)]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


# Mesa 22.3's GL compiler got these wrong before they were rewritten: the `rows` insertion
# sort dropped candidates, and `sample` always drew the first.
@pytest.mark.parametrize("rows", [False, True], ids=["f32", "rows"])
@pytest.mark.parametrize(("n", "k"), [(49152, 40), (4096, 8), (8192, 2), (1000, 64)])
def test_top_k_matches_numpy_on_opengl(opengl: GpuDevice, rows: bool, n: int, k: int) -> None:
    runner = KernelRunner(opengl, use_subgroups=False, use_rows=rows, use_f16=False)
    rng = np.random.default_rng(n + k)
    for kernel in ("top_k_lists", "top_k"):
        assert check_kernel(runner, KernelCase(kernel, None, (("n", n), ("k", k))), rng) == 0


@pytest.mark.parametrize(
    ("temperature", "top_p", "random"), [(0.2, 0.9, 0.7), (1.0, 0.9, 0.3), (1.0, 1.0, 0.99)]
)
def test_sample_draws_as_numpy_on_opengl(opengl: GpuDevice, temperature, top_p, random) -> None:
    runner = KernelRunner(opengl)
    uniforms = (
        ("k", 40),
        ("temperature", temperature),
        ("top_p", top_p),
        ("random", random),
        ("n_history", 9),
    )
    for seed in range(12):
        rng = np.random.default_rng(seed)
        assert check_kernel(runner, KernelCase("sample", None, uniforms), rng) == 0


def test_check_passes_on_the_opengl_backend(opengl: GpuDevice, site: Path) -> None:
    done = pagemind("check", site, backend="OpenGL")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert any(line.startswith("adapter: ") and "OpenGL" in line for line in lines)
    for kernel in ("top_k_lists", "top_k", "sample"):
        assert any(line.startswith(f"ok  kernel {kernel} ") for line in lines), kernel
    assert any(line.startswith("ok  generator: ") for line in lines)


def test_a_wrong_kernel_on_opengl_points_to_the_vulkan_drivers(
    opengl: GpuDevice, site: Path, tmp_path: Path
) -> None:
    shaders = tmp_path / "shaders"
    shutil.copytree(resource_dir("shaders"), shaders)
    merge = shaders / "top_k_merge.wgsl"
    source = merge.read_text()
    assert "indices[rank] = candidate.index;" in source
    merge.write_text(source.replace("indices[rank] = candidate.index;", "indices[rank] = 0u;"))
    done = pagemind("check", site, "--shaders", shaders, backend="OpenGL")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"error: {merge}: kernel top_k " in done.stderr
    assert "fix: wgpu-py runs on OpenGL here" in done.stderr
    assert "apt-get install mesa-vulkan-drivers" in done.stderr


def test_no_adapter_is_one_error_naming_the_backend_and_the_fix(site: Path) -> None:
    done = pagemind("check", site, backend=MISSING_BACKEND)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert (
        f"error: WGPU_BACKEND_TYPE: no WebGPU adapter found for the GPU checks on the "
        f"{MISSING_BACKEND} backend"
    ) in done.stderr
    assert "apt-get install mesa-vulkan-drivers" in done.stderr
    assert "--no-check" in done.stderr


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def repository(site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The site committed in a git repository whose origin is a bare repository beside it."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Docs Author")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "author@example.org")
    git(tmp_path, "init", "--quiet", "--bare", "remote.git")
    (site / ".gitignore").write_text(".pagemind-cache/\n")
    git(site, "init", "--quiet", "--initial-branch", "main")
    git(site, "add", "-A")
    git(site, "commit", "--quiet", "-m", "Write the docs")
    git(site, "remote", "add", "origin", str(tmp_path / "remote.git"))
    return site


def test_gh_deploy_no_check_deploys_without_an_adapter(repository: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    checked = pagemind("gh-deploy", repository, backend=MISSING_BACKEND)
    assert checked.returncode == 1
    assert "no WebGPU adapter found for the GPU checks" in checked.stderr
    assert "--no-check" in checked.stderr
    assert git(remote, "branch", "--list") == ""  # nothing was pushed

    unchecked = pagemind("gh-deploy", repository, "--no-check", backend=MISSING_BACKEND)
    assert unchecked.returncode == 0, unchecked.stderr
    deployed = git(remote, "ls-tree", "-r", "--name-only", "gh-pages").splitlines()
    assert "index.html" in deployed
    assert "_pagemind/site.json" in deployed
    assert any(path.startswith("_pagemind/models/") for path in deployed)
    assert git(repository, "status", "--porcelain") == ""
