"""A real headless Chromium (Debian's package) driven by Playwright, for the browser tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from playwright.sync_api import BrowserContext, Page, sync_playwright

from llmcompiler_provider.ui import create_standalone_app

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-artifacts" / "ui"
CHROMIUM = "/usr/bin/chromium"
SERVER_START_TIMEOUT_S = 30
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class WatchedPage:
    """A page that records what a person would notice going wrong: console errors, script errors, dialogs."""

    page: Page
    problems: list[str] = field(default_factory=list)

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


def watch(page: Page, *, ignored_console: tuple[str, ...] = ()) -> WatchedPage:
    watched = WatchedPage(page)

    def on_console(message) -> None:  # type: ignore[no-untyped-def]
        if message.type == "error" and not any(text in message.text for text in ignored_console):
            watched.problems.append(f"console error: {message.text}")

    def on_dialog(dialog) -> None:  # type: ignore[no-untyped-def]
        watched.problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    page.on("console", on_console)
    page.on("pageerror", lambda error: watched.problems.append(f"page error: {error}"))
    page.on("dialog", on_dialog)
    return watched


@contextmanager
def chromium(user_data_dir: Path) -> Iterator[BrowserContext]:
    """Chromium with a fresh profile in ``user_data_dir``."""
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(user_data_dir), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1400, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


@contextmanager
def serving(store_url: str) -> Iterator[str]:
    """The standalone app over ``store_url`` under uvicorn in a thread on 127.0.0.1; its base URL."""
    port = free_port()
    config = uvicorn.Config(create_standalone_app(store_url), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="ui-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start serving the UI"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/llmcompiler"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
