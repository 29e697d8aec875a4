"""ETags for run results, conditional requests, and a cache of finished runs' answers.

A run's results change only when a shard stores cells (which moves the run's
``progress_at`` in the same transaction) or when the run closes (its status
and ``finished_at``). So the ETag of any answer about a run is a hash of that
state and of the request (path and query string): one primary-key read
decides whether a client's copy is current (304 Not Modified) without reading
a single cell.

A finished run's answers are kept in memory (per process, least recently
used first out, bounded in bytes) under their ETag, and a finished run's
state for a moment (:class:`TtlCache`): 200 clients reading the same
10,000-cell run cost no query at all while the state is fresh, not a join of
10,000 rows each.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from flask import Response, request

__all__ = ["CachedBody", "ResponseCache", "TtlCache", "etag_for", "matches", "not_modified"]


@dataclass(frozen=True, slots=True)
class CachedBody:
    body: bytes
    mimetype: str
    headers: tuple[tuple[str, str], ...] = ()


class _Flight:
    """One body being made: its waiters block on ``done``; ``body`` stays None if it failed."""

    __slots__ = ("body", "done")

    def __init__(self) -> None:
        self.body: CachedBody | None = None
        self.done = threading.Event()


class ResponseCache:
    """Bodies by ETag, at most ``max_bytes`` of them; safe to share between threads."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._bytes = 0
        self._items: OrderedDict[str, CachedBody] = OrderedDict()
        self._flights: dict[str, _Flight] = {}
        self._lock = threading.Lock()

    def get(self, etag: str) -> CachedBody | None:
        with self._lock:
            found = self._items.get(etag)
            if found is not None:
                self._items.move_to_end(etag)
            return found

    def put(self, etag: str, value: CachedBody) -> None:
        size = len(value.body)
        if size > self.max_bytes // 4:
            # One answer may not crowd out everything else.
            return
        with self._lock:
            old = self._items.pop(etag, None)
            if old is not None:
                self._bytes -= len(old.body)
            self._items[etag] = value
            self._bytes += size
            while self._bytes > self.max_bytes and self._items:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= len(dropped.body)

    def get_or_make(self, etag: str, make: Callable[[], CachedBody], *, keep: bool) -> CachedBody:
        """The cached body of ``etag``, else ``make()``'s, made once however many ask at once.

        One ETag is one answer (the run's state and the request), so threads
        asking for it together wait for the first one's body instead of each
        making it: a worker whose cache is cold (just started, or the run just
        finished) and 8 threads reading a 10,000-cell matrix would otherwise
        make it 8 times over under one GIL, and every client of that worker
        would wait seconds for it. A maker that fails lets the next waiter try.
        """
        while True:
            with self._lock:
                found = self._items.get(etag)
                if found is not None:
                    self._items.move_to_end(etag)
                    return found
                flight = self._flights.get(etag)
                leader = flight is None
                if flight is None:
                    flight = self._flights[etag] = _Flight()
            if not leader:
                flight.done.wait()
                if flight.body is not None:
                    return flight.body
                continue  # the maker failed: try again, perhaps as the maker
            try:
                made = make()
                flight.body = made
                if keep:
                    self.put(etag, made)
                return made
            finally:
                with self._lock:
                    del self._flights[etag]
                flight.done.set()


def etag_for(state: str) -> str:
    """A strong ETag (quoted) for ``state`` and this request's path and query string."""
    text = f"{state}|{request.path}|{request.query_string.decode('latin-1')}"
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


def matches(etag: str) -> bool:
    """Whether If-None-Match names ``etag`` (or is ``*``); weak validators compare too."""
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    for candidate in header.split(","):
        tag = candidate.strip()
        if tag == "*":
            return True
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == etag:
            return True
    return False


def not_modified(etag: str) -> Response:
    response = Response(status=304)
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = "private, no-cache"
    return response


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Values kept for ``ttl_s`` seconds (at most ``size`` of them); ``ttl_s`` 0 keeps none.

    For what a busy reader asks on every request and what may be stale for a
    moment: a token that authenticated, the state of a finished run.
    """

    def __init__(self, ttl_s: float, size: int = 4096) -> None:
        self.ttl_s = ttl_s
        self.size = size
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        if self.ttl_s <= 0:
            return None
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            expires, value = found
            if expires < time.monotonic():
                del self._items[key]
                return None
            return value

    def put(self, key: K, value: V) -> None:
        if self.ttl_s <= 0:
            return
        with self._lock:
            self._items[key] = (time.monotonic() + self.ttl_s, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
