"""Shared fixtures: a real Chromium with WebGPU on SwiftShader and a real static HTTP server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from paths import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from playwright.sync_api import sync_playwright
from static_host import StaticHost


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Folder for screenshots and logs the tests leave behind."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless, driven by Playwright (never a downloaded browser)."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser context and page; fails the test on any console error."""
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.console_errors = errors
    yield page
    context.close()


@pytest.fixture
def static_server() -> Iterator:
    """Call with (root, prefix) to serve a built site as GitHub Pages would (see
    static_host.py); returns its URL. Every host is shut down afterwards."""
    hosts: list[StaticHost] = []

    def start(root: Path, prefix: str = "/") -> str:
        hosts.append(StaticHost(root, prefix))
        return hosts[-1].url

    yield start
    for host in hosts:
        host.close()
