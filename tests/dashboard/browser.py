"""What the browser tests share: Debian's Chromium launched once per module (the
``playwright`` and ``browser`` fixtures live in conftest.py) and a page's console."""

from __future__ import annotations

from playwright.sync_api import ConsoleMessage, Page

__all__ = ["Console"]


class Console:
    """Console errors and uncaught exceptions of a page."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", self._message)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def _message(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(f"{message.type}: {message.text}")
