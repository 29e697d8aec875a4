"""Loading files and folders of manifests into a ClusterState, or every problem, located."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from service.errors import InvalidInput, Problem
from service.manifests import LoadResult, load_manifests
from service.policy.model import (
    NAMESPACE_NAME_LABEL,
    ContainerPort,
    Direction,
    Labels,
    Namespace,
    Pod,
    Protocol,
    SourceRef,
    WorkloadRef,
)
from tests.manifests.samples import DATA, pod_yaml, problems_loading, workload_yaml, write

# --- the sample folder ---------------------------------------------------------------------------


def test_a_folder_is_read_recursively_in_sorted_order_without_hidden_files() -> None:
    result = load_manifests([DATA / "cluster"])
    folder = str(DATA / "cluster")
    assert result.files == tuple(
        os.path.join(folder, name)
        for name in (
            "apps/batch/jobs.yml",
            "apps/web.yaml",
            "namespaces.yaml",
            "policies/allow.yaml",
            "policies/deny.json",
        )
    )
    assert "hidden-should-not-load" not in {ns.name for ns in result.state.namespaces}


def test_the_sample_folder_becomes_the_cluster_it_describes() -> None:
    result = load_manifests([DATA / "cluster"])
    state = result.state
    assert state.namespaces == (
        Namespace("monitoring", Labels({NAMESPACE_NAME_LABEL: "monitoring"})),
        Namespace("prod", Labels({"team": "web", NAMESPACE_NAME_LABEL: "prod"})),
    )
    assert state.pods == (
        Pod(
            "prod",
            "report",
            Labels({"app": "report"}),
            workload=WorkloadRef("prod", "report", "CronJob"),
        ),
        Pod(
            "prod",
            "web",
            Labels({"app": "web", "tier": "front"}),
            ports=(ContainerPort(8080, Protocol.TCP, "http"),),
            workload=WorkloadRef("prod", "web", "Deployment"),
        ),
    )
    assert [p.ref for p in state.policies] == [
        "prod/allow-web",
        "NetworkPolicy prod/calico-allow",
        "prod/default-deny",
    ]
    deny = state.policies[2]
    assert deny.policy_types == frozenset({Direction.INGRESS, Direction.EGRESS})
    assert [s.name for s in state.services] == ["web"]
    assert result.skipped == {"ConfigMap": 2}
    assert result.workloads == (
        WorkloadRef("prod", "report", "CronJob"),
        WorkloadRef("prod", "web", "Deployment"),
    )


def test_policies_remember_file_document_and_line() -> None:
    result = load_manifests([DATA / "cluster"])
    allow, calico, deny = result.state.policies
    folder = DATA / "cluster" / "policies"
    assert allow.source == SourceRef(str(folder / "allow.yaml"), 0, 4)  # the List item's line
    assert calico.source == SourceRef(str(folder / "allow.yaml"), 0, 20)
    assert deny.source == SourceRef(str(folder / "deny.json"), 0, 1)


def test_loading_is_deterministic_whatever_the_order_of_creation(tmp_path: Path) -> None:
    first = tmp_path / "first"
    shutil.copytree(DATA / "cluster", first)
    second = tmp_path / "second"
    second.mkdir()
    for source in sorted((DATA / "cluster").rglob("*"), reverse=True):
        target = second / source.relative_to(DATA / "cluster")
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
    a, b = load_manifests([first]), load_manifests([second])
    assert a.state == b.state
    assert [Path(f).relative_to(first) for f in a.files] == [
        Path(f).relative_to(second) for f in b.files
    ]


def test_a_file_named_twice_is_read_once(tmp_path: Path) -> None:
    path = write(tmp_path, "ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n")
    result = load_manifests([tmp_path, path])
    assert result.files == (str(path),)


# --- message shape and locations -----------------------------------------------------------------


def test_problems_read_file_line_field_path_and_expectation(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "np.yaml",
        """\
apiVersion: v1
kind: Namespace
metadata:
  name: prod
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web
  namespace: prod
spec:
  podSelector:
    matchLabels:
      app: web
  ingress:
    - from:
        - podSelector: {}
        - podSelector:
            matchExpressions:
              - key: tier
                operator: Inn
                values: [a]
      ports:
        - port: 70000
          protocol: tcp
""",
    )
    assert problems_loading(path) == [
        f"{path}:21: spec.ingress[0].from[1].podSelector.matchExpressions[0].operator:"
        " 'Inn' is not one of In, NotIn, Exists, DoesNotExist",
        f"{path}:24: spec.ingress[0].ports[0].port: 70000 is not a valid port number:"
        " expected 1-65535",
        f"{path}:25: spec.ingress[0].ports[0].protocol: 'tcp' is not one of TCP, UDP, SCTP;"
        " did you mean 'TCP'?",
    ]


def test_problems_are_located_in_the_right_document_of_a_multi_document_file(
    tmp_path: Path,
) -> None:
    docs = [pod_yaml("a"), pod_yaml("b").replace("name: main", "name: Main"), pod_yaml("c")]
    path = write(tmp_path, "pods.yaml", "---\n".join(docs))
    [problem] = load_manifests_problems(path)
    assert (problem.document, problem.line) == (1, 21)  # 10 lines + '---' + 10 lines
    assert str(problem).startswith(f"{path}:21: spec.containers[0].name: 'Main' is not a DNS-1123")


def load_manifests_problems(*paths: Path) -> tuple[Problem, ...]:
    with pytest.raises(InvalidInput) as err:
        load_manifests(list(paths))
    return err.value.problems


def test_problems_from_every_file_are_raised_together(tmp_path: Path) -> None:
    good = write(tmp_path, "a-good.yaml", pod_yaml("fine"))
    bad_yaml = write(tmp_path, "b-bad.yaml", "a: b: c\n")
    bad_pod = write(tmp_path, "c-pod.yaml", pod_yaml("x").replace("main", "Main"))
    problems = problems_loading(tmp_path, tmp_path / "missing.yaml")
    assert problems == [
        f"{tmp_path / 'missing.yaml'}: no such file or folder",
        f"{bad_yaml}:1:5: invalid YAML: mapping values are not allowed in this context",
        f"{bad_pod}:10: spec.containers[0].name: 'Main' is not a DNS-1123 label (lowercase"
        " alphanumerics and '-', starting and ending with an alphanumeric)",
    ]
    assert load_manifests([good]).state.pods[0].name == "fine"


def test_a_document_that_is_not_an_object_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "list.yaml", "- a\n- b\n")
    assert problems_loading(path) == [
        f"{path}:1: expected a mapping (a Kubernetes object), got a list"
    ]


def test_objects_need_api_version_and_kind(tmp_path: Path) -> None:
    path = write(tmp_path, "x.yaml", "metadata:\n  name: x\n")
    assert problems_loading(path) == [
        f"{path}:1: apiVersion: required: every object needs apiVersion and kind",
        f"{path}:1: kind: required: every object needs apiVersion and kind",
    ]


@pytest.mark.parametrize(
    ("kind", "api_version", "expected"),
    [
        ("NetworkPolicy", "extensions/v1beta1", "'networking.k8s.io/v1' for a NetworkPolicy"),
        ("Deployment", "extensions/v1beta1", "'apps/v1' for a Deployment"),
        ("CronJob", "batch/v1beta1", "'batch/v1' for a CronJob"),
        ("Pod", "apps/v1", "'v1' for a Pod"),
    ],
)
def test_known_kinds_need_their_api_version(
    tmp_path: Path, kind: str, api_version: str, expected: str
) -> None:
    path = write(tmp_path, "x.yaml", f"apiVersion: {api_version}\nkind: {kind}\n")
    problems = problems_loading(path)
    assert f"{path}:1: apiVersion: expected {expected}, got '{api_version}'" in problems


# --- JSON and List kinds -------------------------------------------------------------------------


def test_json_manifests_are_located_by_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "np.json",
        '{\n  "apiVersion": "networking.k8s.io/v1",\n  "kind": "NetworkPolicy",\n'
        '  "metadata": {"name": "x"},\n  "spec": {\n    "podSelector": {},\n'
        '    "policyTypes": ["Ingress", "Sideways"]\n  }\n}\n',
    )
    assert problems_loading(path) == [
        f"{path}:7: spec.policyTypes[1]: 'Sideways' is not one of Ingress, Egress"
    ]


def test_list_kinds_are_unpacked_and_their_items_located(tmp_path: Path) -> None:
    items = "\n".join(
        "  - " + pod_yaml(name).replace("\n", "\n    ").rstrip() for name in ("a", "b")
    )
    good = write(tmp_path, "pods.yaml", f"apiVersion: v1\nkind: PodList\nitems:\n{items}\n")
    result = load_manifests([good])
    assert [p.name for p in result.state.pods] == ["a", "b"]
    bad = write(tmp_path, "bad/pods.yaml", good.read_text().replace("name: b", "name: B"))
    assert problems_loading(bad) == [
        f"{bad}:17: items[1].metadata.name: 'B' is not a DNS-1123 subdomain (lowercase"
        " alphanumerics and '-', starting and ending with an alphanumeric, in parts separated"
        " by '.')"
    ]


def test_a_list_whose_items_are_not_a_list_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "l.yaml", "apiVersion: v1\nkind: List\nitems:\n  a: 1\n")
    assert problems_loading(path) == [f"{path}:3: items: expected a list of objects, got a mapping"]


# --- namespaces, duplicates, skipped kinds -------------------------------------------------------


def test_undeclared_namespaces_exist_with_only_their_name_label(tmp_path: Path) -> None:
    write(tmp_path, "p.yaml", pod_yaml("a", namespace="team-a"))
    write(
        tmp_path,
        "np.yaml",
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: deny\n"
        "spec:\n  podSelector: {}\n",
    )
    write(
        tmp_path,
        "svc.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  namespace: team-b\nspec:\n"
        "  ports:\n    - port: 80\n",
    )
    namespaces = load_manifests([tmp_path]).state.namespaces
    assert namespaces == tuple(
        Namespace(name, Labels({NAMESPACE_NAME_LABEL: name}))
        for name in ("default", "team-a", "team-b")
    )


def test_duplicate_objects_name_both_places(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", pod_yaml("web"))
    second = write(tmp_path, "b.yaml", "apiVersion: v1\nkind: ConfigMap\n---\n" + pod_yaml("web"))
    assert problems_loading(tmp_path) == [
        f"{second}:7: metadata.name: duplicate Pod prod/web: already defined at {first}:1"
    ]


def test_same_name_in_other_namespace_or_kind_is_no_duplicate(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", pod_yaml("web"))
    write(tmp_path, "b.yaml", pod_yaml("web", namespace="other"))
    write(tmp_path, "c.yaml", workload_yaml("Deployment", "apps/v1", "web"))
    assert len(load_manifests([tmp_path]).state.pods) == 3


def test_kinds_not_modelled_are_counted_never_dropped(tmp_path: Path) -> None:
    text = "\n---\n".join(
        [
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}",
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r}",
            "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: pool}",
            "apiVersion: crd.projectcalico.org/v1\nkind: NetworkPolicy\nmetadata: {name: m}",
        ]
    )
    result: LoadResult = load_manifests([write(tmp_path, "misc.yaml", text)])
    assert result.skipped == {
        "ConfigMap": 2,
        "IPPool": 1,
        "NetworkPolicy (crd.projectcalico.org/v1)": 1,
        "Role": 1,
    }
    assert result.state.policies == ()


def test_calico_and_admin_policies_are_read_beside_kubernetes_ones(tmp_path: Path) -> None:
    text = "\n---\n".join(
        [
            "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g}",
            "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\n"
            "metadata: {name: n, namespace: shop}\nspec: {selector: app == 'web'}",
            "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: security}\n"
            "spec: {order: 100}",
            "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\n"
            "metadata: {name: partners, labels: {role: partner}}\nspec: {nets: [192.0.2.0/24]}",
            "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\n"
            "metadata: {name: a}\nspec: {priority: 5, subject: {namespaces: {}}}",
        ]
    )
    result = load_manifests([write(tmp_path, "calico.yaml", text)])
    assert result.skipped == {}
    assert sorted(p.ref for p in result.state.policies) == [
        "AdminNetworkPolicy a",
        "GlobalNetworkPolicy g",
        "GlobalNetworkSet partners",
        "NetworkPolicy shop/n",
        "Tier security",
    ]
    # Cluster-wide objects live in no namespace; the namespaced policy's namespace is known.
    assert [ns.name for ns in result.state.namespaces] == ["shop"]


def test_duplicate_calico_objects_are_named_by_namespace_when_they_have_one(
    tmp_path: Path,
) -> None:
    glob = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\n"
    namespaced = (
        "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\n"
        "metadata: {name: n, namespace: shop}\n"
    )
    other = namespaced.replace("shop", "prod")
    first = write(tmp_path, "a.yaml", glob + "---\n" + namespaced)
    second = write(tmp_path, "b.yaml", glob + "---\n" + namespaced + "---\n" + other)
    assert problems_loading(tmp_path) == [
        f"{second}:3: metadata.name: duplicate GlobalNetworkPolicy g: already defined at {first}:1",
        f"{second}:7: metadata.name: duplicate NetworkPolicy shop/n: already defined at {first}:5",
    ]


def test_a_bad_calico_policy_is_located_at_its_file_and_line(tmp_path: Path) -> None:
    text = (
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n"
        "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\n"
        "metadata: {name: n, namespace: shop}\n"
        "spec:\n  selector: app == web\n"
    )
    path = write(tmp_path, "bad.yaml", text)
    assert problems_loading(path) == [
        f"{path}:9: spec.selector: selector 'app == web': at character 8: expected a quoted"
        " string after '==', got label 'web'"
    ]


# --- unsafe and malformed files through the loader ----------------------------------------------


def test_unsafe_and_malformed_files_are_named(tmp_path: Path) -> None:
    bomb_lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    bomb_lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    bomb = write(tmp_path, "a-bomb.yaml", "\n".join(bomb_lines) + "\n")
    dupes = write(tmp_path, "b-dupes.yaml", "kind: Pod\nkind: Service\n")
    results = problems_loading(tmp_path)
    assert results == [
        f"{bomb}:6: a5[0]: aliases expand to more than 100000 nodes; refusing what looks like"
        " an alias bomb",
        f"{dupes}:2: kind: duplicate key 'kind' (first at line 1, again at line 2)",
    ]
