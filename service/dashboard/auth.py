"""Who is looking: the dashboard's login, roles, and protection of its forms.

People log in once by pasting an API token into a form. The token is checked
(:func:`service.auth.authenticate`) and only its id goes into Flask's signed
session cookie (HttpOnly, SameSite=Lax): never the token itself. Every
request reads the token again by id, so a revoked token or a changed role
takes effect at once. When anonymous reading is configured, pages can be
read without logging in; changing anything (schedules, webhooks) always
needs an operator's token.

Every form that changes something carries a per-session CSRF token, checked
on POST before the view runs.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Final, ParamSpec, TypeVar
from urllib.parse import urlsplit

from flask import abort, g, redirect, request, session, url_for
from werkzeug.wrappers import Response

from service.auth import TokenInfo, authenticate, get_token, role_allows
from service.dashboard.context import db, state
from service.store.enums import TokenRole

__all__ = [
    "Viewer",
    "check_csrf",
    "csrf_token",
    "current_viewer",
    "log_in",
    "log_out",
    "needs",
    "safe_next",
]

_TOKEN_ID: Final = "dashboard_token_id"
_CSRF: Final = "dashboard_csrf"

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Viewer:
    """Whoever is looking: a token, or anonymous (``token`` None)."""

    token: TokenInfo | None

    @property
    def name(self) -> str:
        return self.token.name if self.token is not None else "anonymous"

    @property
    def role(self) -> TokenRole | None:
        return self.token.role if self.token is not None else None

    def can(self, need: TokenRole) -> bool:
        role = self.role
        return role is not None and role_allows(role, need)

    @property
    def can_read(self) -> bool:
        return self.token is not None or state().settings.anonymous_read

    @property
    def can_operate(self) -> bool:
        return self.can(TokenRole.OPERATOR)


def current_viewer() -> Viewer:
    found = g.get("dashboard_viewer")
    if isinstance(found, Viewer):
        return found
    token: TokenInfo | None = None
    token_id = session.get(_TOKEN_ID)
    if isinstance(token_id, int):
        token = get_token(db(), token_id)
        if token is None or not token.active:
            # Revoked or deleted since the login: the session is over.
            session.pop(_TOKEN_ID, None)
            token = None
    viewer = Viewer(token)
    g.dashboard_viewer = viewer
    return viewer


def log_in(token_text: str) -> TokenInfo | None:
    """Check a pasted token; on success remember its id in the session."""
    info = authenticate(db(), token_text.strip())
    if info is None:
        return None
    # A fresh session on login: nothing chosen before it carries over.
    session.clear()
    session[_TOKEN_ID] = info.id
    session.permanent = False
    g.pop("dashboard_viewer", None)
    return info


def log_out() -> None:
    session.clear()
    g.pop("dashboard_viewer", None)


def csrf_token() -> str:
    token = session.get(_CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        session[_CSRF] = token
    return token


def check_csrf() -> None:
    """Refuse (400) a POST whose form lacks this session's CSRF token."""
    if request.method != "POST":
        return
    expected = session.get(_CSRF)
    given = request.form.get("csrf", "")
    if not isinstance(expected, str) or not hmac.compare_digest(expected, given):
        abort(400, description="the form expired or did not come from this dashboard; reload it")


def safe_next(target: str | None) -> str:
    """A redirect target after login: a path of this dashboard, else the overview."""
    fallback = url_for("dashboard.overview")
    if not target:
        return fallback
    parts = urlsplit(target)
    prefix = fallback.rstrip("/")
    if parts.scheme or parts.netloc or not parts.path.startswith(prefix) or "\\" in target:
        return fallback
    return target


def needs(role: TokenRole) -> Callable[[Callable[P, R]], Callable[P, R | Response]]:
    """A view that needs ``role``: readers may be anonymous when configured; anyone else is
    sent to the login page, and a logged-in viewer without the role gets 403."""

    def decorate(view: Callable[P, R]) -> Callable[P, R | Response]:
        @wraps(view)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> R | Response:
            viewer = current_viewer()
            allowed = viewer.can_read if role is TokenRole.VIEWER else viewer.can(role)
            if not allowed:
                if viewer.token is None:
                    return redirect(url_for("dashboard.login", next=request.full_path))
                abort(403, description=f"this needs the {role.value} role")
            return view(*args, **kwargs)

        return wrapped

    return decorate
