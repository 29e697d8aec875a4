"""Webhook URLs: checked when given, and redacted wherever they are shown or logged.

A webhook URL is often its own credential: Slack's incoming webhooks are
``https://hooks.slack.com/services/T…/B…/<secret>``, other services put a
token in the query. So a URL is stored whole (it is needed to send) and
leaves the store only redacted (:func:`redact_url`):

- scheme, host and port are kept (people need to see where it goes);
- a user name is kept, a password replaced;
- a path segment is kept only when it reads as a plain word (lowercase
  letters, ``-``, ``_``, ``.``; at most :data:`WORD_MAX` characters), any
  other segment (ids, tokens, anything with digits or capitals) replaced;
- every query value is replaced (keys are kept), the fragment dropped.

:func:`scrub` takes the same out of free text (an exception's message may
quote the URL it failed on).
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import SplitResult, parse_qsl, quote, urlsplit

from service.errors import FieldPath, InvalidInput, Problem

__all__ = ["HIDDEN", "MAX_URL_CHARS", "WORD_MAX", "check_webhook_url", "redact_url", "scrub"]

HIDDEN: Final = "***"
WORD_MAX: Final = 20
MAX_URL_CHARS: Final = 2048
_WORD = re.compile(r"[a-z][a-z._-]*")
_SCHEMES: Final = ("http", "https")


def _netloc(parts: SplitResult) -> str:
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    user = ""
    if parts.username is not None:
        user = quote(parts.username, safe="") + (f":{HIDDEN}" if parts.password else "") + "@"
    return f"{user}{host}{port}"


def _segment(segment: str) -> str:
    if not segment:
        return segment
    if len(segment) <= WORD_MAX and _WORD.fullmatch(segment):
        return segment
    return HIDDEN


def redact_url(url: str) -> str:
    """``url`` with its secret parts replaced (see the module docstring); never raises."""
    try:
        parts = urlsplit(url.strip())
        netloc = _netloc(parts)
    except ValueError:
        # Not even parseable: show nothing of it.
        return HIDDEN
    path = "/".join(_segment(s) for s in parts.path.split("/"))
    query = "&".join(
        f"{quote(key, safe='')}={HIDDEN}"
        for key, _ in parse_qsl(parts.query, keep_blank_values=True)
    )
    scheme = f"{parts.scheme}://" if parts.scheme else ""
    return f"{scheme}{netloc}{path}" + (f"?{query}" if query else "")


def scrub(text: str, url: str) -> str:
    """``text`` with ``url`` (and its path and query, as an error may quote them) redacted."""
    if not url:
        return text
    out = text.replace(url, redact_url(url))
    try:
        parts = urlsplit(url)
    except ValueError:
        return out
    for secret in (parts.path, parts.query, parts.password):
        if secret and len(secret) > 1:
            out = out.replace(secret, HIDDEN)
    return out


def check_webhook_url(url: str, *, path: FieldPath) -> str:
    """``url`` stripped, if it is an http(s) URL with a host; InvalidInput naming ``path``.

    The messages never quote the URL: it may be a secret.
    """
    text = url.strip()
    problems: list[Problem] = []
    if not text:
        problems.append(Problem("expected an http:// or https:// URL", path=path))
    elif len(text) > MAX_URL_CHARS:
        problems.append(
            Problem(f"expected at most {MAX_URL_CHARS} characters, got {len(text)}", path=path)
        )
    elif any(ch.isspace() or not ch.isprintable() for ch in text):
        problems.append(Problem("expected a URL without spaces or control characters", path=path))
    else:
        try:
            parts = urlsplit(text)
            port_ok = parts.port is None or 0 < parts.port < 65536
        except ValueError:
            parts, port_ok = None, False
        if parts is None or not port_ok:
            problems.append(Problem("not a URL (bad host or port)", path=path))
        elif parts.scheme.lower() not in _SCHEMES:
            problems.append(
                Problem(f"expected an http:// or https:// URL, got {parts.scheme!r}", path=path)
            )
        elif not parts.hostname:
            problems.append(Problem("expected a URL with a host name", path=path))
    InvalidInput.collect(problems)
    return text
