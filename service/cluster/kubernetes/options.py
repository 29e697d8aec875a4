"""What a Kubernetes run can be told: naming, probing, deadlines, images and limits.

Every image is configurable so a run works from an air-gapped registry; the
defaults are the upstream e2e suite's agnhost, which serves TCP and UDP
(``serve-hostname``), SCTP (``porter``) and probes (``connect``) from one image.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import StrEnum

from service.errors import FieldPath, InvalidInput, Problem

__all__ = [
    "DEFAULT_AGNHOST",
    "Images",
    "KubernetesOptions",
    "ProbeMode",
    "Resources",
]

DEFAULT_AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"
_QUANTITY = re.compile(r"[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|k|M|G)?")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")


class ProbeMode(StrEnum):
    """How a probe addresses its target.

    ``pod-ip``: the target pod's IP (no DNS, no kube-proxy: what policies see).
    ``service-ip``: the ClusterIP of a Service fronting the target.
    ``service-name``: the Service's DNS name; needs egress to DNS (UDP/TCP 53 to
    kube-dns) from the probing pod, which a default-deny egress policy blocks.
    A target without a Service of its own is probed by pod IP in every mode.
    """

    POD_IP = "pod-ip"
    SERVICE_IP = "service-ip"
    SERVICE_NAME = "service-name"


@dataclass(frozen=True, slots=True)
class Images:
    """The image every pod runs and when the kubelet pulls it.

    No pull Secrets: run namespaces are created fresh and hold no Secrets, so a
    registry that needs credentials must get them from the nodes (a kubelet
    credential provider or the container runtime's mirror configuration).
    """

    agnhost: str = DEFAULT_AGNHOST
    pull_policy: str = "IfNotPresent"


@dataclass(frozen=True, slots=True)
class Resources:
    """Requests and limits of one container, as Kubernetes quantities."""

    cpu_request: str = "10m"
    cpu_limit: str = "100m"
    memory_request: str = "16Mi"
    memory_limit: str = "64Mi"

    def manifest(self) -> dict[str, dict[str, str]]:
        return {
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
            "limits": {"cpu": self.cpu_limit, "memory": self.memory_limit},
        }


# A probe container runs up to ``probe_parallelism`` agnhost processes at once.
PROBE_RESOURCES = Resources(
    cpu_request="50m", cpu_limit="500m", memory_request="64Mi", memory_limit="256Mi"
)


@dataclass(frozen=True, slots=True)
class KubernetesOptions:
    """Knobs of a Kubernetes run; every field has a working default.

    ``run_id``: None draws a random one. ``ttl_s``: after this long the janitor
    may delete the run's namespaces. ``probe_timeout_s``: agnhost's connect
    timeout (a blocked probe costs this long). ``probe_parallelism``: probes run
    at once inside one pod (in waves beyond it). ``exec_concurrency``: execs in
    flight at once across pods. ``exec_grace_s``: what one exec may take beyond
    its probes before it is an error. ``ready_timeout_s``: how long pods have to
    become Ready; pods still not Ready then make their cells errors.
    ``keep_objects``: teardown forgets the run's objects instead of deleting them
    (shards of one run share them; :func:`~.janitor.delete_run` removes them).
    """

    namespace_prefix: str = "npd"
    run_id: str | None = None
    ttl_s: float = 6 * 3600.0
    probe_mode: ProbeMode = ProbeMode.POD_IP
    probe_timeout_s: float = 1.0
    probe_parallelism: int = 32
    exec_concurrency: int = 16
    exec_grace_s: float = 10.0
    dns_allowance_s: float = 12.0
    ready_timeout_s: float = 180.0
    poll_interval_s: float = 1.0
    cluster_domain: str = "cluster.local"
    run_as_user: int = 65532
    images: Images = field(default_factory=Images)
    probe_resources: Resources = PROBE_RESOURCES
    target_resources: Resources = field(default_factory=Resources)
    agnhost_path: str = "/agnhost"
    keep_objects: bool = False

    def __post_init__(self) -> None:
        InvalidInput.collect(self._problems())

    def _problems(self) -> list[Problem]:
        problems: list[Problem] = []

        def seconds(name: str, value: float, *, positive: bool = True) -> None:
            ok = isinstance(value, int | float) and math.isfinite(value)
            ok = ok and (value > 0 if positive else value >= 0)
            if not ok:
                want = "seconds > 0" if positive else "seconds >= 0"
                problems.append(Problem(f"expected {want}, got {value!r}", FieldPath((name,))))

        for name in ("ttl_s", "probe_timeout_s", "ready_timeout_s", "poll_interval_s"):
            seconds(name, getattr(self, name))
        for name in ("exec_grace_s", "dns_allowance_s"):
            seconds(name, getattr(self, name), positive=False)
        for name in ("probe_parallelism", "exec_concurrency"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                problems.append(Problem(f"expected at least 1, got {value!r}", FieldPath((name,))))
        if not (isinstance(self.run_as_user, int) and self.run_as_user > 0):
            problems.append(
                Problem(
                    f"expected a non-root user id (> 0), got {self.run_as_user!r}",
                    FieldPath(("run_as_user",)),
                )
            )
        if not self.images.agnhost.strip():
            problems.append(Problem("expected an image name", FieldPath(("images", "agnhost"))))
        if self.images.pull_policy not in _PULL_POLICIES:
            problems.append(
                Problem(
                    f"expected one of {', '.join(_PULL_POLICIES)}, got {self.images.pull_policy!r}",
                    FieldPath(("images", "pull_policy")),
                )
            )
        for name in ("probe_resources", "target_resources"):
            res: Resources = getattr(self, name)
            for attr in ("cpu_request", "cpu_limit", "memory_request", "memory_limit"):
                value = getattr(res, attr)
                if not (isinstance(value, str) and _QUANTITY.fullmatch(value)):
                    problems.append(
                        Problem(
                            f"expected a Kubernetes quantity such as 100m or 64Mi, got {value!r}",
                            FieldPath((name, attr)),
                        )
                    )
        return problems
