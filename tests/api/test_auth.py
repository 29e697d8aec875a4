"""Tokens: stored hashed, checked in constant time, revocable; roles nest."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from service.api.context import services
from service.auth import (
    TOUCH_EVERY,
    TokenNameTakenError,
    authenticate,
    issue_token,
    needs_touch,
    revoke_token,
    role_allows,
    token_matches,
)
from service.store.base import utc_now
from service.store.enums import TokenRole
from service.store.models import ApiToken

V, OP, A = TokenRole.VIEWER, TokenRole.OPERATOR, TokenRole.ADMIN


@pytest.mark.parametrize(
    ("have", "need", "allowed"),
    [
        (V, V, True),
        (V, OP, False),
        (V, A, False),
        (OP, V, True),
        (OP, OP, True),
        (OP, A, False),
        (A, V, True),
        (A, OP, True),
        (A, A, True),
    ],
)
def test_roles_nest(have: TokenRole, need: TokenRole, allowed: bool) -> None:
    assert role_allows(have, need) is allowed


def test_only_the_hash_of_a_token_is_stored(app: Flask) -> None:
    with services(app).sessions.begin() as session:
        issued = issue_token(session, name="ci", role=OP)
    with services(app).sessions() as session:
        row = session.scalars(select(ApiToken)).one()
    assert row.token_hash == hashlib.sha256(issued.token.encode()).hexdigest()
    assert issued.token not in (row.name, row.prefix, row.token_hash)
    assert issued.token.startswith(row.prefix)
    assert token_matches(issued.token, row.token_hash)
    assert not token_matches(issued.token + "x", row.token_hash)


def test_authenticate_knows_active_tokens_only(app: Flask) -> None:
    sessions = services(app).sessions
    with sessions.begin() as session:
        issued = issue_token(session, name="ci", role=V)
    with sessions() as session:
        found = authenticate(session, issued.token)
        assert found is not None
        assert found.role is V
        # Change the last character to one it is not (a fixed "A" is the token's own 1 time in 64).
        other = "B" if issued.token.endswith("A") else "A"
        assert authenticate(session, issued.token[:-1] + other) is None
        assert authenticate(session, "not-even-our-prefix") is None
    with sessions.begin() as session:
        revoked = revoke_token(session, issued.info.id)
        assert revoked is not None
        assert revoked.revoked_at is not None
    with sessions() as session:
        assert authenticate(session, issued.token) is None


def test_token_names_are_unique(app: Flask) -> None:
    with services(app).sessions.begin() as session:
        issue_token(session, name="ci", role=V)
        with pytest.raises(TokenNameTakenError):
            issue_token(session, name="ci", role=A)


def test_last_use_is_written_at_most_once_a_minute(app: Flask) -> None:
    with services(app).sessions.begin() as session:
        info = issue_token(session, name="ci", role=V).info
    assert needs_touch(info)
    now = utc_now()
    used = replace(info, last_used_at=now)
    assert not needs_touch(used, now=now + TOUCH_EVERY - timedelta(seconds=1))
    assert needs_touch(used, now=now + TOUCH_EVERY)


def _last_used(app: Flask, name: str) -> object:
    with services(app).sessions() as session:
        return session.scalar(select(ApiToken.last_used_at).where(ApiToken.name == name))


def test_a_request_notes_the_tokens_last_use_once_a_minute_not_every_time(app: Flask) -> None:
    with services(app).sessions.begin() as session:
        issued = issue_token(session, name="reader", role=V)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {issued.token}"}
    assert client.get("/api/v1/scenarios", headers=headers).status_code == 200
    first = _last_used(app, "reader")
    assert first is not None
    # The cached token learnt its last use: the next request does not write it again.
    assert client.get("/api/v1/scenarios", headers=headers).status_code == 200
    assert _last_used(app, "reader") == first
