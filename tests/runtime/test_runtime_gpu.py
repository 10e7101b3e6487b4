"""What the runtime says when the GPU cannot run the model: no adapter, or a buffer larger
than the device's limits. Each error reaches the page as a message naming the cause."""

from __future__ import annotations

import json

import pytest
from paths import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser

LOAD_ERROR = """
async (urls) => {
  const rt = await window.createRuntime();
  return rt.load(urls).then(() => null, (error) => error.message);
}
"""


def test_without_an_adapter_the_load_says_why(browser, static_server, tiny_site):
    root, urls = tiny_site
    # Debian's Chromium offers WebGPU on Linux only behind these switches: no adapter without.
    arguments = [a for a in CHROMIUM_ARGS if "webgpu" not in a and "Vulkan" not in a]
    plain = browser.browser_type.launch(executable_path=CHROMIUM, args=arguments)
    try:
        page = plain.new_page()
        page.goto(static_server(root))
        page.wait_for_function("document.title === 'ready'")
        error = page.evaluate(LOAD_ERROR, urls.__dict__)
    finally:
        plain.close()
    assert error is not None and "no GPU adapter" in error


def test_a_buffer_beyond_the_device_limits_is_refused(page, static_server, tiny_site):
    root, urls = tiny_site
    program_path = root / urls.programUrl
    program = json.loads(program_path.read_text(encoding="utf-8"))
    program["buffers"]["logits"]["bytes"] = 2**40
    program_path.write_text(json.dumps(program), encoding="utf-8")
    page.goto(static_server(root))
    page.wait_for_function("document.title === 'ready'")

    error = page.evaluate(LOAD_ERROR, urls.__dict__)

    assert error is not None
    assert "buffer logits" in error and "maxStorageBufferBindingSize" in error
