"""The REST API (issue 5): a Flask app factory and blueprints per resource under /api/v1.

- :mod:`~service.api.app`: ``create_app(config)``, what gunicorn runs;
- :mod:`~service.api.config`: settings, from the factory's argument or NETPOL_DRIFT_*;
- :mod:`~service.api.registry`: operations declared once (route, role, models, replies);
- :mod:`~service.api.openapi`: the OpenAPI 3.1 document generated from them;
- :mod:`~service.api.security`: bearer tokens and roles;
- :mod:`~service.api.parsing`, :mod:`~service.api.intake`: reading requests and scenarios;
- :mod:`~service.api.problems`: RFC 9457 problem documents for every error;
- :mod:`~service.api.caching`: ETags and the cache of finished runs' answers;
- :mod:`~service.api.routes`: the blueprints (thin views over :mod:`service.queries`,
  :mod:`service.runs` and :mod:`service.auth`).

docs/api.md describes the API for its users.
"""

from service.api.app import create_app

__all__ = ["create_app"]
