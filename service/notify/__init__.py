"""Notifications: webhooks fired when a run finds regressions, alarm drift or new flakes.

Nobody watches a nightly job, so a run that finds something says so: per
scenario or per schedule, webhooks (a generic JSON body, or a Slack
message) with a link to the run page.

- :mod:`~service.notify.urls`: webhook URLs checked, and redacted wherever shown or logged;
- :mod:`~service.notify.webhooks`: webhooks in the store;
- :mod:`~service.notify.findings`: what a finished run found (via :mod:`service.compare`);
- :mod:`~service.notify.payloads`: the generic and the Slack bodies;
- :mod:`~service.notify.deliveries`: one delivery per (webhook, run), attempts with backoff;
- :mod:`~service.notify.resume`: what is owed (runs not prepared, deliveries due) handed on again;
- :mod:`~service.notify.senders`: in-process (a thread) or Celery;
- :mod:`~service.notify.hooks`: hooked where runs close (:mod:`service.runs.lifecycle`);
- :mod:`~service.notify.tasks`: the Celery tasks (imported by the workers only).
"""

from service.notify.deliveries import (
    AttemptOutcome,
    PostResult,
    attempt_delivery,
    due_deliveries,
    http_post,
    owed_runs,
    prepare_deliveries,
)
from service.notify.findings import Reason, RunFindings, run_findings
from service.notify.hooks import Notifications, install_notifications
from service.notify.payloads import generic_body, headline, render_body, slack_body
from service.notify.resume import Resumed, resume_notifications
from service.notify.senders import CelerySender, InProcessSender, NotificationSender
from service.notify.settings import RUN_PAGE_PATH, NotifySettings
from service.notify.urls import check_webhook_url, redact_url, scrub
from service.notify.webhooks import (
    WebhookSpec,
    WebhookView,
    create_webhook,
    delete_webhook,
    list_webhooks,
    set_webhook_enabled,
    webhooks_for_run,
)

__all__ = [
    "RUN_PAGE_PATH",
    "AttemptOutcome",
    "CelerySender",
    "InProcessSender",
    "NotificationSender",
    "Notifications",
    "NotifySettings",
    "PostResult",
    "Reason",
    "Resumed",
    "RunFindings",
    "WebhookSpec",
    "WebhookView",
    "attempt_delivery",
    "check_webhook_url",
    "create_webhook",
    "delete_webhook",
    "due_deliveries",
    "generic_body",
    "headline",
    "http_post",
    "install_notifications",
    "list_webhooks",
    "owed_runs",
    "prepare_deliveries",
    "redact_url",
    "render_body",
    "resume_notifications",
    "run_findings",
    "scrub",
    "set_webhook_enabled",
    "slack_body",
    "webhooks_for_run",
]
