"""The dashboard's blueprint: its security headers, CSRF check and template helpers.

Every page is sent with a Content-Security-Policy that allows scripts, styles
and images from this server only: no inline script or style can run, so a
name that slipped through escaping still could not execute. The pages are
never framed (clickjacking) and never sniffed as another type. Error pages
are app-wide (:mod:`service.dashboard.error_pages`): an unknown dashboard path
matches no blueprint route.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from flask import Blueprint, request, url_for
from werkzeug.wrappers import Response

from service.dashboard.auth import check_csrf, csrf_token, current_viewer
from service.dashboard.context import close_db, state
from service.export.palette import VERDICT_COLOURS, VERDICT_LABELS

__all__ = [
    "CSP",
    "HEADERS",
    "PREFIX",
    "STATIC_PREFIX",
    "bp",
    "static_url",
    "template_helpers",
    "under_dashboard",
]

PREFIX: Final = "/dashboard"
STATIC_PREFIX: Final = PREFIX + "/static/"
STATIC_DIR: Final = Path(__file__).resolve().parent / "static"

CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}

bp = Blueprint(
    "dashboard",
    __name__,
    url_prefix=PREFIX,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)


def under_dashboard(path: str) -> bool:
    """Whether ``path`` is the dashboard's: its cookie (path ``PREFIX``) goes with it."""
    return path == PREFIX or path.startswith(PREFIX + "/")


@bp.before_request
def _before() -> None:
    check_csrf()


@bp.after_request
def _headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint != "dashboard.static":
        # Pages show live data and who is logged in: never from a shared cache.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


bp.teardown_request(close_db)


def static_url(filename: str) -> str:
    """The URL of a static file, with a hash of its content so browsers refetch changes."""
    versions = state().static_versions
    version = versions.get(filename)
    if version is None:
        data = (STATIC_DIR / filename).read_bytes()
        version = hashlib.sha256(data).hexdigest()[:10]
        versions[filename] = version
    return url_for("dashboard.static", filename=filename, v=version)


def _when(value: datetime | str | None) -> str:
    """A time as people read it, in UTC: ``2026-03-01 02:00 UTC``."""
    if value is None:
        return "—"
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        return parsed.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _ago(value: datetime | str | None, *, now: datetime | None = None) -> str:
    """How long ago (or how soon): ``3 h ago``, ``in 12 min``."""
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return ""
    at = now if now is not None else datetime.now(UTC)
    seconds = (at - value).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 60:
        text = f"{int(seconds)} s"
    elif seconds < 3600:
        text = f"{int(seconds // 60)} min"
    elif seconds < 172_800:
        text = f"{int(seconds // 3600)} h"
    else:
        text = f"{int(seconds // 86_400)} d"
    return f"in {text}" if future else f"{text} ago"


def _iso(value: datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def template_helpers() -> dict[str, Any]:
    """What every dashboard template may call, but who is looking (``viewer``)."""
    return {
        "csrf_token": csrf_token,
        "static_url": static_url,
        "when": _when,
        "ago": _ago,
        "iso": _iso,
        "verdict_colours": VERDICT_COLOURS,
        "verdict_labels": VERDICT_LABELS,
    }


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"viewer": current_viewer(), **template_helpers()}
