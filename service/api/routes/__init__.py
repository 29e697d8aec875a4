"""The API's blueprints, one per resource; importing this registers every operation."""

from service.api.routes.chaos import blueprint as chaos
from service.api.routes.compare import blueprint as compare
from service.api.routes.results import blueprint as results
from service.api.routes.runs import blueprint as runs
from service.api.routes.scenarios import blueprint as scenarios
from service.api.routes.schedules import blueprint as schedules
from service.api.routes.system import blueprint as system
from service.api.routes.tokens import blueprint as tokens

BLUEPRINTS = (scenarios, runs, results, compare, chaos, schedules, tokens, system)

__all__ = ["BLUEPRINTS"]
