"""The API's settings: given to the app factory, else from NETPOL_DRIFT_* variables.

======================================  ===============================================
``NETPOL_DRIFT_DATABASE_URL``           the database (default: the embedded SQLite file)
``NETPOL_DRIFT_BROKER_URL``             the Redis broker: runs go to Celery workers;
                                        unset: runs execute in the API process
``NETPOL_DRIFT_ANONYMOUS_READ``         ``true``: reading needs no token (default false)
``NETPOL_DRIFT_MAX_BODY_BYTES``         the largest request body accepted (2 MiB)
``NETPOL_DRIFT_AUTO_MIGRATE``           bring the schema up to date at start-up
                                        (default: for SQLite only; compose migrates)
``NETPOL_DRIFT_RUN_THREADS``            threads executing shards in-process (2)
``NETPOL_DRIFT_API_CACHE_BYTES``        memory for cached results of finished runs (64 MiB)
``NETPOL_DRIFT_AUTH_CACHE_S``           seconds a token that authenticated is trusted
                                        without asking the database again (5; 0: never);
                                        a token revoked elsewhere works that long still
======================================  ===============================================

A key given to the factory wins over the environment; keys are the field
names of :class:`ApiConfig` (``database_url``, ``anonymous_read``, ...).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from service.errors import FieldPath, InvalidInput, Problem
from service.store.engine import DATABASE_URL_ENV, default_database_url, parse_database_url

__all__ = ["ENV", "ApiConfig"]

ENV: Final[dict[str, str]] = {
    "database_url": DATABASE_URL_ENV,
    "broker_url": "NETPOL_DRIFT_BROKER_URL",
    "anonymous_read": "NETPOL_DRIFT_ANONYMOUS_READ",
    "max_body_bytes": "NETPOL_DRIFT_MAX_BODY_BYTES",
    "auto_migrate": "NETPOL_DRIFT_AUTO_MIGRATE",
    "run_threads": "NETPOL_DRIFT_RUN_THREADS",
    "cache_bytes": "NETPOL_DRIFT_API_CACHE_BYTES",
    "auth_cache_s": "NETPOL_DRIFT_AUTH_CACHE_S",
}
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off", ""})


@dataclass(frozen=True, slots=True)
class ApiConfig:
    database_url: str
    broker_url: str | None = None
    anonymous_read: bool = False
    max_body_bytes: int = 2 * 1024 * 1024
    # None: migrate an SQLite database (the embedded default), not a server's.
    auto_migrate: bool | None = None
    run_threads: int = 2
    cache_bytes: int = 64 * 1024 * 1024
    auth_cache_s: int = 5

    @property
    def migrates(self) -> bool:
        if self.auto_migrate is not None:
            return self.auto_migrate
        return parse_database_url(self.database_url).get_backend_name() == "sqlite"

    @classmethod
    def load(
        cls, given: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> ApiConfig:
        """``given`` over ``environ`` (default: the process environment) over the defaults.

        Raises InvalidInput naming each setting (by key, or by variable when it
        came from the environment) that is unknown or does not fit.
        """
        env = os.environ if environ is None else environ
        values = dict(given or {})
        problems: list[Problem] = []
        fields = [f.name for f in dataclasses.fields(cls)]
        for key in sorted(set(values) - set(fields)):
            problems.append(
                Problem(
                    f"unknown setting; expected one of: {', '.join(sorted(fields))}",
                    path=FieldPath((key,)),
                )
            )
        out: dict[str, Any] = {}
        for name in fields:
            if name in values:
                raw, where = values[name], FieldPath((name,))
            elif env.get(ENV[name], "").strip():
                raw, where = env[ENV[name]].strip(), FieldPath((ENV[name],))
            else:
                continue
            out[name] = _convert(name, raw, where, problems)
        if "database_url" not in out:
            out["database_url"] = default_database_url()
        else:
            try:
                parse_database_url(str(out["database_url"]), field="database_url")
            except InvalidInput as err:
                problems.extend(err.problems)
        InvalidInput.collect(problems)
        return cls(**out)


def _convert(name: str, raw: object, where: FieldPath, problems: list[Problem]) -> object:
    if name in ("database_url", "broker_url"):
        if isinstance(raw, str):
            return raw.strip() or None
        problems.append(Problem("expected a URL string", path=where))
        return None
    if name in ("anonymous_read", "auto_migrate"):
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in _TRUE | _FALSE:
            return raw.lower() in _TRUE
        problems.append(Problem(f"expected true or false, got {raw!r}", path=where))
        return False
    # The rest are integers: positive, or (auth_cache_s) zero to switch the cache off.
    least = 0 if name == "auth_cache_s" else 1
    value: int | None = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str) and raw.isdigit():
        value = int(raw)
    if value is None or value < least:
        problems.append(Problem(f"expected an integer >= {least}, got {raw!r}", path=where))
        return least
    return value
