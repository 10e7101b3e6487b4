"""What the runtime says when the GPU cannot run the model: no WebGPU, no adapter, or a
buffer larger than the device's limits. Each error reaches the page as a message naming the
cause."""

from __future__ import annotations

import json

import pytest
from paths import CHROMIUM, CHROMIUM_ARGS

LOAD_ERROR = """
async (urls) => {
  const rt = await window.createRuntime();
  return rt.load(urls).then(() => null, (error) => error.message);
}
"""


def load_error(browser, arguments: list[str], url: str, urls) -> str | None:
    """The load's error message in a Chromium started with `arguments`."""
    chromium = browser.browser_type.launch(executable_path=CHROMIUM, args=arguments)
    try:
        page = chromium.new_page()
        page.goto(url)
        page.wait_for_function("document.title === 'ready'")
        return page.evaluate(LOAD_ERROR, urls.__dict__)
    finally:
        chromium.close()


@pytest.mark.browser
def test_without_an_adapter_the_load_says_why(browser, static_server, tiny_site):
    root, urls = tiny_site
    # Debian's Chromium offers WebGPU on Linux only behind these switches: no adapter without.
    arguments = [a for a in CHROMIUM_ARGS if "webgpu" not in a and "Vulkan" not in a]
    error = load_error(browser, arguments, static_server(root), urls)
    assert error is not None and "no GPU adapter" in error


@pytest.mark.browser
def test_without_webgpu_the_load_says_why(browser, static_server, tiny_site):
    root, urls = tiny_site
    # A page over plain HTTP from a host other than localhost is no secure context: browsers
    # give it no navigator.gpu (nor Cache Storage).
    url = static_server(root).replace("127.0.0.1", "docs.example")
    arguments = [*CHROMIUM_ARGS, "--host-resolver-rules=MAP docs.example 127.0.0.1"]
    error = load_error(browser, arguments, url, urls)
    assert error is not None and "no WebGPU" in error


@pytest.mark.parametrize(
    ("url", "group", "name", "named"),
    [
        ("programUrl", "buffers", "logits", "buffer logits"),
        # A model package made for a larger GPU.
        ("manifestUrl", "tensors", "output.weight", "tensor output.weight"),
    ],
)
def test_what_exceeds_the_device_limits_is_refused(
    runtime_host, tiny_site, url, group, name, named
):
    """A program buffer or a model tensor larger than one binding of this GPU may hold."""
    root, urls = tiny_site
    path = root / getattr(urls, url)
    content = json.loads(path.read_text(encoding="utf-8"))
    content[group][name]["bytes"] = 2**40
    path.write_text(json.dumps(content), encoding="utf-8")

    error = runtime_host(root)(LOAD_ERROR, urls.__dict__)

    assert error is not None
    assert named in error and "maxStorageBufferBindingSize" in error
