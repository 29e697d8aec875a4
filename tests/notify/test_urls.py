"""Webhook URLs: the secret parts never shown, bad URLs refused without quoting them."""

from __future__ import annotations

import pytest

from service.errors import FieldPath, InvalidInput
from service.notify.urls import check_webhook_url, redact_url, scrub

REDACTED = [
    (
        "https://hooks.slack.com/services/T0001/B0002/XXXXXXXXXXXXXXXXXXXXXXXX",
        "https://hooks.slack.com/services/***/***/***",
    ),
    ("http://127.0.0.1:8123/hook", "http://127.0.0.1:8123/hook"),
    ("https://example.com/webhook/abcdef123456", "https://example.com/webhook/***"),
    ("https://example.com/api/v2/notify", "https://example.com/api/***/notify"),
    (
        "https://example.com/hook?token=s3cret&channel=ops",
        "https://example.com/hook?token=***&channel=***",
    ),
    ("https://user:pa55@example.com/x", "https://user:***@example.com/x"),
    ("https://example.com/x#fragment-secret", "https://example.com/x"),
    ("https://example.com/averyveryverylongwordsegment", "https://example.com/***"),
    ("https://[::1]:9000/in", "https://[::1]:9000/in"),
    ("https://example.com:notaport/x", "***"),
]


@pytest.mark.parametrize(("url", "shown"), REDACTED)
def test_a_redacted_url_keeps_where_it_goes_and_hides_tokens(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(("url", "_shown"), REDACTED)
def test_redacting_twice_changes_nothing_more(url: str, _shown: str) -> None:
    once = redact_url(url)
    assert redact_url(once) == once


def test_scrub_takes_the_url_and_its_secret_parts_out_of_a_message() -> None:
    url = "https://hooks.slack.com/services/T0001/B0002/SECRET?x=1"
    message = f"failed to reach {url}; path /services/T0001/B0002/SECRET refused"
    cleaned = scrub(message, url)
    assert "SECRET" not in cleaned
    assert "T0001" not in cleaned
    assert "hooks.slack.com" in cleaned


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "expected an http:// or https:// URL"),
        ("ftp://example.com/x", "expected an http:// or https:// URL, got 'ftp'"),
        ("https:///nohost", "expected a URL with a host name"),
        ("https://example.com/a b", "expected a URL without spaces or control characters"),
        ("https://example.com:99999/SECRETPATH", "not a URL (bad host or port)"),
        ("https://example.com/" + "a" * 3000, "expected at most 2048 characters, got 3020"),
    ],
)
def test_a_bad_webhook_url_is_refused_naming_the_field_but_not_the_url(
    url: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_webhook_url(url, path=FieldPath(("url",)))
    (problem,) = caught.value.problems
    assert problem.path == FieldPath(("url",))
    assert problem.message == message
    assert "SECRETPATH" not in problem.message


def test_a_good_webhook_url_is_kept_stripped() -> None:
    assert check_webhook_url("  https://example.com/h \n", path=FieldPath(("url",))) == (
        "https://example.com/h"
    )
