"""The cache of finished runs' answers: bounded, least recently used out, each answer made once.

Threads are real threads; a maker blocks on an event so that the others ask
while it is still making.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from service.api.caching import CachedBody, ResponseCache

JOIN_S = 10.0


def _body(text: str) -> CachedBody:
    return CachedBody(text.encode(), "application/json")


class _SlowMaker:
    """A maker that counts its calls and finishes when released (raising, if told to)."""

    def __init__(self, text: str, *, fail: bool = False) -> None:
        self.text = text
        self.fail = fail
        self.calls = 0
        self.entered = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()

    def __call__(self) -> CachedBody:
        with self._lock:
            self.calls += 1
        self.entered.set()
        assert self.release.wait(JOIN_S)
        if self.fail:
            raise RuntimeError("the database went away")
        return _body(self.text)


def _ask_together(
    cache: ResponseCache, make: Callable[[], CachedBody], *, threads: int, keep: bool
) -> list[CachedBody | BaseException]:
    answers: list[CachedBody | BaseException] = []
    lock = threading.Lock()

    def ask() -> None:
        try:
            answer: CachedBody | BaseException = cache.get_or_make("e1", make, keep=keep)
        except Exception as err:  # the answer under test, compared by the caller
            answer = err
        with lock:
            answers.append(answer)

    workers = [threading.Thread(target=ask) for _ in range(threads)]
    for worker in workers:
        worker.start()
    time.sleep(0.2)  # the others are waiting on the first by now (a late one finds the cache)
    if isinstance(make, _SlowMaker):
        make.release.set()
    for worker in workers:
        worker.join(JOIN_S)
        assert not worker.is_alive(), "a waiter was never woken"
    return answers


@pytest.mark.parametrize("keep", [True, False])
def test_threads_asking_together_get_one_making(keep: bool) -> None:
    cache = ResponseCache(1 << 20)
    make = _SlowMaker("matrix")
    answers = _ask_together(cache, make, threads=8, keep=keep)
    assert answers == [_body("matrix")] * 8
    assert make.calls == 1
    # Without keep (a running run's answer, soon stale) it is shared while made, never kept.
    assert cache.get("e1") == (_body("matrix") if keep else None)


def test_a_failed_making_lets_a_waiter_make_it() -> None:
    cache = ResponseCache(1 << 20)
    failing = _SlowMaker("never", fail=True)
    leader: list[BaseException] = []

    def lead() -> None:
        try:
            cache.get_or_make("e1", failing, keep=True)
        except RuntimeError as err:
            leader.append(err)

    first = threading.Thread(target=lead)
    first.start()
    assert failing.entered.wait(JOIN_S)
    second = _SlowMaker("made again")
    second.release.set()
    answers: list[CachedBody] = []
    waiter = threading.Thread(
        target=lambda: answers.append(cache.get_or_make("e1", second, keep=True))
    )
    waiter.start()
    time.sleep(0.1)
    failing.release.set()
    for thread in (first, waiter):
        thread.join(JOIN_S)
        assert not thread.is_alive()
    assert [str(e) for e in leader] == ["the database went away"]
    assert answers == [_body("made again")]
    assert second.calls == 1
    assert cache.get("e1") == _body("made again")


def test_the_least_recently_used_answer_goes_first_and_no_answer_crowds_out_the_rest() -> None:
    cache = ResponseCache(40)
    for key in ("a", "b", "c"):
        cache.put(key, _body(key * 10))
    assert cache.get("a") is not None  # a is now the most recently used
    cache.put("d", _body("d" * 10))
    cache.put("e", _body("e" * 10))
    assert cache.get("b") is None
    assert [k for k in "acde" if cache.get(k) is not None] == ["a", "c", "d", "e"]
    cache.put("big", _body("x" * 11))  # over a quarter of the cache: not kept
    assert cache.get("big") is None
    assert cache.get("a") is not None
