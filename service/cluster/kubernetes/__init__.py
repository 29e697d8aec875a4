"""The Kubernetes backend: runs a scenario's matrix on a real (Calico) cluster.

The only package importing the kubernetes client. Split by job:

- :mod:`.config`: named cluster targets and credentials (read, never stored);
- :mod:`.naming`: run-scoped namespace names, ownership labels, expiry;
- :mod:`.manifests` and :mod:`.policies`: the objects a run creates, and the
  policies rewritten for the run's namespaces;
- :mod:`.calico_rewrite`, :mod:`.calico_selectors` and :mod:`.calico_objects`:
  Calico's own objects and the admin policies, rewritten so they touch the run
  alone, applied through their API, and deleted (policies before tiers);
- :mod:`.api`: the API calls, as dicts, with errors that name what to grant;
- :mod:`.run_objects`: the run's namespaces, Services and probe pods, created or
  adopted under its ownership labels, and deleted at teardown;
- :mod:`.network_policies`: each version's NetworkPolicies applied in place, and
  the ones a version drops deleted;
- :mod:`.execs`, :mod:`.probe` and :mod:`.probing`: one exec per source pod probing
  all its targets in parallel, split into execs, and reading what each probe did;
- :mod:`.addressing`: pod IP, Service IP or Service name;
- :mod:`.readiness`: waiting for pods and diagnosing those that never get Ready;
- :mod:`.identity`: cluster id and the Kubernetes and Calico versions;
- :mod:`.janitor`: deleting the namespaces of runs that died;
- :mod:`.cluster`: :class:`KubernetesCluster`, the Cluster interface;
- :mod:`.perturb`: the chaos steps (policy churn, label flips, pod churn,
  calico-node restarts) on a running cluster;
- :mod:`.shards`: clusters for the shards of stored runs, shared across workers.
"""

from service.cluster.kubernetes.cluster import KubernetesCluster
from service.cluster.kubernetes.config import (
    ENV_CLUSTERS,
    ENV_CONTEXT,
    ENV_KUBECONFIG,
    ClusterTarget,
    Connection,
    connect,
    load_targets,
)
from service.cluster.kubernetes.janitor import SweepReport, delete_run, sweep_expired
from service.cluster.kubernetes.options import Images, KubernetesOptions, ProbeMode, Resources
from service.cluster.kubernetes.shards import KubernetesShards, shard_run_id

__all__ = [
    "ENV_CLUSTERS",
    "ENV_CONTEXT",
    "ENV_KUBECONFIG",
    "ClusterTarget",
    "Connection",
    "Images",
    "KubernetesCluster",
    "KubernetesOptions",
    "KubernetesShards",
    "ProbeMode",
    "Resources",
    "SweepReport",
    "connect",
    "delete_run",
    "load_targets",
    "shard_run_id",
    "sweep_expired",
]
