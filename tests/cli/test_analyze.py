"""``netpol-drift analyze`` end to end, on the sample manifests in tests/cli/data.

The expected connlists were worked out by hand from the manifests:

shop/: ``shop`` denies everything both ways (default-deny), then allows
frontend <- the internet except 10.0.0.0/8 on TCP 8080, frontend -> backend on
its named port ``api`` (9090) and -> anywhere on UDP 53, backend <- frontend on
``api`` and <- prometheus in a ``team=ops`` namespace on TCP 9090, backend -> db
on TCP 5432, db <- backend on ``pg`` (5432). ``monitoring`` has no policy, so
prometheus is open both ways. The one ipBlock cuts IPv4 at 10.0.0.0 and
11.0.0.0. Two ConfigMaps and a Secret are skipped.

lab.yaml: lab/api admits 2001:db8::/32 on ``https`` (443) and lab/probe on TCP
1-79, 81-65535 and UDP 53, and may only reach 10.0.0.0/8 on TCP 5432; lab/probe
(a bare Pod) is open. The IPv6 block brings three IPv6 ranges in. A Calico
HostEndpoint (no policy in it) is skipped.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from service.cli import main
from service.policy.model import NetworkPolicy
from service.policy.parse import parse_network_policy
from service.report.analysis import ANALYZE_JSON_SCHEMA
from service.report.connlist import external_ranges

DATA = Path(__file__).parent / "data"
SHOP = str(DATA / "shop")
LAB = str(DATA / "lab.yaml")
DOCS = Path(__file__).parents[2] / "docs" / "analyze.md"

R1 = "0.0.0.0-9.255.255.255[External]"
R2 = "10.0.0.0-10.255.255.255[External]"
R3 = "11.0.0.0-255.255.255.255[External]"
V6_LOW = "::-2001:db7:ffff:ffff:ffff:ffff:ffff:ffff[External]"
V6_DOC = "2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff[External]"
V6_HIGH = "2001:db9::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff[External]"
PROM, BACKEND = "monitoring/prometheus[Deployment]", "shop/backend[Deployment]"
DB, FRONTEND = "shop/db[StatefulSet]", "shop/frontend[Deployment]"
API, PROBE = "lab/api[Deployment]", "lab/probe[Pod]"

SHOP_CONNLIST = [
    f"{R1} => {PROM} : All Connections",
    f"{R1} => {FRONTEND} : TCP 8080",
    f"{R2} => {PROM} : All Connections",
    f"{R3} => {PROM} : All Connections",
    f"{R3} => {FRONTEND} : TCP 8080",
    f"{PROM} => {R1} : All Connections",
    f"{PROM} => {R2} : All Connections",
    f"{PROM} => {R3} : All Connections",
    f"{PROM} => {BACKEND} : TCP 9090",
    f"{BACKEND} => {DB} : TCP 5432",
    f"{FRONTEND} => {R1} : UDP 53",
    f"{FRONTEND} => {R2} : UDP 53",
    f"{FRONTEND} => {R3} : UDP 53",
    f"{FRONTEND} => {PROM} : UDP 53",
    f"{FRONTEND} => {BACKEND} : TCP 9090",
]
LAB_CONNLIST = [
    f"{R1} => {PROBE} : All Connections",
    f"{R2} => {PROBE} : All Connections",
    f"{R3} => {PROBE} : All Connections",
    f"{V6_LOW} => {PROBE} : All Connections",
    f"{V6_DOC} => {API} : TCP 443",
    f"{V6_DOC} => {PROBE} : All Connections",
    f"{V6_HIGH} => {PROBE} : All Connections",
    f"{API} => {R2} : TCP 5432",
    f"{PROBE} => {R1} : All Connections",
    f"{PROBE} => {R2} : All Connections",
    f"{PROBE} => {R3} : All Connections",
    f"{PROBE} => {V6_LOW} : All Connections",
    f"{PROBE} => {V6_DOC} : All Connections",
    f"{PROBE} => {V6_HIGH} : All Connections",
    f"{PROBE} => {API} : TCP 1-79,81-65535,UDP 53",
]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["analyze", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- connlist ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"), [(SHOP, SHOP_CONNLIST), (LAB, LAB_CONNLIST)], ids=["shop", "lab"]
)
def test_connlist_prints_every_connected_pair_sorted(
    capsys: pytest.CaptureFixture[str], path: str, expected: list[str]
) -> None:
    code, out, _ = run(capsys, path, "--format", "connlist")
    assert code == 0
    assert out.splitlines() == expected


def test_ipv6_ranges_appear_only_when_a_policy_names_an_ipv6_block(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, shop, _ = run(capsys, SHOP, "--format", "connlist")
    _, lab, _ = run(capsys, LAB, "--format", "connlist")
    assert ":" not in shop.replace(" : ", "")
    assert V6_LOW in lab


def test_console_script_prints_the_connlist(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "netpol-drift"
    done = subprocess.run(
        [str(script), "analyze", SHOP, "--format", "connlist"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == SHOP_CONNLIST
    assert "2 ConfigMap" in done.stderr


# --- external ranges -----------------------------------------------------------------------


def _policy(spec: dict[str, Any]) -> NetworkPolicy:
    return parse_network_policy(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {"podSelector": {}, **spec},
        }
    )


def _spans(policies: list[NetworkPolicy]) -> list[str]:
    return [r.span for r in external_ranges(policies)]


def test_no_ip_block_leaves_one_ipv4_range() -> None:
    assert _spans([_policy({"ingress": [{}]})]) == ["0.0.0.0-255.255.255.255"]


def test_ranges_split_at_every_cidr_and_except_boundary() -> None:
    block = {"ipBlock": {"cidr": "192.168.0.0/16", "except": ["192.168.1.0/24"]}}
    host = {"ipBlock": {"cidr": "8.8.8.8/32"}}
    assert _spans([_policy({"ingress": [{"from": [block]}, {"from": [host]}]})]) == [
        "0.0.0.0-8.8.8.7",
        "8.8.8.8-8.8.8.8",
        "8.8.8.9-192.167.255.255",
        "192.168.0.0-192.168.0.255",
        "192.168.1.0-192.168.1.255",
        "192.168.2.0-192.168.255.255",
        "192.169.0.0-255.255.255.255",
    ]


def test_ip_blocks_of_rules_not_in_force_do_not_split() -> None:
    # Egress rules without Egress in policyTypes are ignored, so are their blocks.
    ignored = {
        "policyTypes": ["Ingress"],
        "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}],
    }
    assert _spans([_policy(ignored)]) == ["0.0.0.0-255.255.255.255"]


# --- json ----------------------------------------------------------------------------------


def schema_errors(value: Any, schema: dict[str, Any], where: str = "$") -> list[str]:
    """Check the subset of JSON Schema (2020-12) the analyze schema uses.

    jsonschema is not a dependency of the project; this covers every keyword the schema has.
    """
    errors: list[str] = []
    kinds = {"object": dict, "array": list, "string": str, "boolean": bool}
    wanted = schema.get("type")
    if wanted == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"{where}: expected an integer"]
    elif wanted is not None and not isinstance(value, kinds[wanted]):
        return [f"{where}: expected {wanted}"]
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: expected {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: expected one of {schema['enum']}")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        errors.append(f"{where}: {value!r} does not match {schema['pattern']}")
    if "minimum" in schema and value < schema["minimum"]:
        errors.append(f"{where}: below {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        errors.append(f"{where}: above {schema['maximum']}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        errors += [
            f"{where}: missing {key}" for key in schema.get("required", []) if key not in value
        ]
        for key, item in value.items():
            if key in properties:
                errors += schema_errors(item, properties[key], f"{where}.{key}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{where}: unexpected {key}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", 10**9):
            errors.append(f"{where}: {len(value)} items is out of bounds")
        for i, item in enumerate(value):
            errors += schema_errors(item, schema.get("items", {}), f"{where}[{i}]")
    return errors


def json_output(capsys: pytest.CaptureFixture[str], path: str) -> dict[str, Any]:
    code, out, _ = run(capsys, path, "--format", "json")
    assert code == 0
    document: dict[str, Any] = json.loads(out)
    return document


@pytest.mark.parametrize("path", [SHOP, LAB], ids=["shop", "lab"])
def test_json_output_validates_against_the_published_schema(
    capsys: pytest.CaptureFixture[str], path: str
) -> None:
    assert schema_errors(json_output(capsys, path), ANALYZE_JSON_SCHEMA) == []


def test_the_schema_in_the_docs_is_the_one_the_code_follows() -> None:
    blocks = re.findall(r"```json\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.DOTALL)
    schemas = [json.loads(b) for b in blocks if '"$schema"' in b]
    assert schemas == [ANALYZE_JSON_SCHEMA]


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d.pop("skipped"),
        lambda d: d["connections"][0].update(all="yes"),
        lambda d: d["connections"][0]["ports"].update(ICMP=[[1, 1]]),
        lambda d: d["workloads"][0].update(id="no-namespace"),
        lambda d: d["external"][0].update(ip_version=5),
    ],
    ids=["missing-key", "wrong-type", "unknown-protocol", "bad-id", "bad-enum"],
)
def test_the_schema_check_catches_a_damaged_document(
    capsys: pytest.CaptureFixture[str], damage: Any
) -> None:
    document = json_output(capsys, SHOP)
    damage(document)
    assert schema_errors(document, ANALYZE_JSON_SCHEMA) != []


def test_json_holds_the_same_pairs_as_the_connlist(capsys: pytest.CaptureFixture[str]) -> None:
    document = json_output(capsys, LAB)
    lines = [
        f"{c['source']} => {c['destination']} : {c['connections']}" for c in document["connections"]
    ]
    assert lines == LAB_CONNLIST
    ids = {w["id"] for w in document["workloads"]} | {r["id"] for r in document["external"]}
    assert all(c["source"] in ids and c["destination"] in ids for c in document["connections"])


def test_json_gives_port_ranges_per_protocol(capsys: pytest.CaptureFixture[str]) -> None:
    document = json_output(capsys, LAB)
    by_pair = {(c["source"], c["destination"]): c for c in document["connections"]}
    probe_to_api = by_pair[(PROBE, API)]
    assert probe_to_api["ports"] == {"TCP": [[1, 79], [81, 65535]], "UDP": [[53, 53]]}
    assert probe_to_api["all"] is False
    assert by_pair[(PROBE, V6_LOW)]["all"] is True


def test_json_lists_files_workloads_ranges_and_skipped_kinds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    document = json_output(capsys, SHOP)
    assert [Path(f).name for f in document["files"]] == [
        "monitoring.yaml", "namespaces.yaml", "policies.yaml", "workloads.yaml",
    ]  # fmt: skip
    assert [w["id"] for w in document["workloads"]] == [PROM, BACKEND, DB, FRONTEND]
    assert [r["id"] for r in document["external"]] == [R1, R2, R3]
    assert document["skipped"] == [
        {"kind": "ConfigMap", "count": 2},
        {"kind": "Secret", "count": 1},
    ]


# --- table ---------------------------------------------------------------------------------


def matrix_cells(out: str) -> dict[str, list[str]]:
    """The matrix as {row label: cells}, cut at the columns the header's numbers start at."""
    lines = out.splitlines()
    header_at = next(i for i, line in enumerate(lines) if re.fullmatch(r" +1( +\d+)*", line))
    starts = [m.start() for m in re.finditer(r"\d+", lines[header_at])]
    rows: dict[str, list[str]] = {}
    for line in lines[header_at + 1 :]:
        if not line.strip():
            break
        ends = [*starts[1:], None]
        rows[line[: starts[0]].split()[1]] = [
            line[a:b].strip() for a, b in zip(starts, ends, strict=True)
        ]
    return rows


def test_table_shows_each_pair_in_its_row_and_column(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, SHOP, "--width", "200")
    assert code == 0
    # Rows (sources) and columns (destinations) are numbered alike: prometheus, backend, db,
    # frontend.
    assert matrix_cells(out) == {
        PROM: ["=", "TCP 9090", "-", "-"],
        BACKEND: ["-", "=", "TCP 5432", "-"],
        DB: ["-", "-", "=", "-"],
        FRONTEND: ["UDP 53", "TCP 9090", "-", "="],
    }
    assert f"  {R1}\n    => {PROM} : All Connections\n    => {FRONTEND} : TCP 8080\n" in out


def test_table_abbreviates_long_connections_with_a_legend(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, out, _ = run(capsys, LAB, "--width", "200")
    assert matrix_cells(out) == {API: ["=", "-"], PROBE: ["c1", "="]}
    assert '"c1" TCP 1-79,81-65535,UDP 53' in out


def test_table_becomes_a_pair_list_when_too_wide(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, SHOP, "--width", "40")
    assert "one line per connected pair" in out
    assert f"  {PROM}\n    => {BACKEND} : TCP 9090\n" in out


def test_table_stays_readable_with_dozens_of_workloads(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    deployments = [
        f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: app{i:02d}, namespace: many}}
spec:
  selector: {{matchLabels: {{app: app{i:02d}}}}}
  template:
    metadata: {{labels: {{app: app{i:02d}, tier: t{i % 3}}}}}
    spec: {{containers: [{{name: c, image: i, ports: [{{containerPort: 80}}]}}]}}
"""
        for i in range(40)
    ]
    policy = """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: tiers, namespace: many}
spec:
  podSelector: {matchLabels: {tier: t1}}
  ingress: [{from: [{podSelector: {matchLabels: {tier: t0}}}], ports: [{port: 80}]}]
"""
    (tmp_path / "many.yaml").write_text("---\n".join([*deployments, policy]))
    code, out, _ = run(capsys, str(tmp_path), "--width", "120")
    assert code == 0
    assert "one line per connected pair" in out
    assert max(len(line) for line in out.splitlines()) <= 120
    # app01 is tier t1: only the 14 tier-t0 apps (0, 3, ..., 39) reach it.
    reaching = [
        line for line in out.splitlines() if line.endswith("many/app01[Deployment] : TCP 80")
    ]
    assert len(reaching) == 14


# --- explain -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "verdict", "names"),
    [
        (["shop/frontend", "shop/backend", "api/TCP"], "TCP 9090: allowed",
         ["shop/frontend egress[0]", "shop/backend ingress[0]"]),
        (["monitoring/prometheus", "shop/backend", "9090/tcp"], "TCP 9090: allowed",
         ["shop/backend ingress[1]", "not isolated"]),
        (["shop/frontend", "shop/db", "5432"], "TCP 5432: blocked",
         ["isolated by shop/db, shop/default-deny", "shop/default-deny has no ingress rules"]),
        (["8.8.8.8", "shop/frontend", "http/TCP"], "TCP 8080: allowed",
         ["shop/frontend ingress[0]", "ipBlock 0.0.0.0/0 except 10.0.0.0/8"]),
        (["10.1.2.3", "shop/frontend", "8080/TCP"], "TCP 8080: blocked", []),
        (["shop/frontend", "10.1.2.3", "53/udp"], "UDP 53: allowed", ["shop/frontend egress[1]"]),
        (["shop/frontend[Deployment]", "shop/backend", "9090/TCP"], "TCP 9090: allowed", []),
    ],
)  # fmt: skip
def test_explain_gives_the_verdict_and_the_policy_and_rule_behind_it(
    capsys: pytest.CaptureFixture[str], args: list[str], verdict: str, names: list[str]
) -> None:
    code, out, _ = run(capsys, SHOP, "--explain", *args)
    assert code == 0
    assert verdict in out.splitlines()[0]
    for name in names:
        assert name in out


@pytest.mark.parametrize(
    ("args", "argument", "expected"),
    [
        (["shop/nope", "shop/db", "80/TCP"], "--explain SRC", "no pod or workload 'shop/nope'"),
        (["shop/db", "frontend", "80/TCP"], "--explain DST", "namespace/name"),
        (["shop/db", "300.1.1.1", "80/TCP"], "--explain DST", "IP address"),
        (["shop/db", "shop/frontend", "80/ICMP"], "--explain PORT/PROTO", "one of TCP, UDP, SCTP"),
        (["shop/db", "shop/frontend", "0/TCP"], "--explain PORT/PROTO", "expected 1-65535"),
        (["shop/db", "shop/frontend", "80/TCP/x"], "--explain PORT/PROTO", "such as 80/TCP"),
        (["shop/db", "shop/frontend", "pg/TCP"], "--explain PORT/PROTO", "named ports http/TCP"),
        (["shop/db", "shop/frontend", "http/UDP"], "--explain PORT/PROTO", "no UDP port named"),
        (["shop/db", "1.2.3.4", "http/TCP"], "--explain PORT/PROTO", "needs a pod destination"),
    ],
)
def test_explain_rejects_bad_arguments_naming_the_argument(
    capsys: pytest.CaptureFixture[str], args: list[str], argument: str, expected: str
) -> None:
    code, out, err = run(capsys, SHOP, "--explain", *args)
    assert code == 2
    assert out == ""
    assert f"error: {argument}: " in err
    assert expected in err


def test_explain_reports_every_bad_argument_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, SHOP, "--explain", "x/y", "y/z", "80/XYZ")
    assert (code, out) == (2, "")
    assert [line.split(":")[0] for line in err.splitlines() if line.startswith("error")] == [
        "error", "error", "error",
    ]  # fmt: skip
    assert all(a in err for a in ("--explain SRC", "--explain DST", "--explain PORT/PROTO"))


# --- invalid input and notes ---------------------------------------------------------------


def test_invalid_manifest_exits_2_with_a_located_error_and_nothing_on_stdout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, str(DATA / "invalid"), "--format", "connlist")
    assert (code, out) == (2, "")
    field = "spec.ingress[0].from[0].podSelector.matchExpressions[0].operator"
    assert f"bad-policy.yaml:13: {field}: " in err
    assert "'Inn'" in err


def test_missing_path_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(DATA / "no-such-dir"))
    assert (code, out) == (2, "")
    assert "no-such-dir: no such file or folder" in err


@pytest.mark.parametrize(
    "extra",
    [["--format", "table"], ["--format", "json"], ["--format", "connlist"],
     ["--explain", "lab/probe", "lab/api", "https"]],
    ids=["table", "json", "connlist", "explain"],
)  # fmt: skip
def test_skipped_kinds_are_noted_on_stderr_in_every_format(
    capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    code, out, err = run(capsys, LAB, *extra)
    assert code == 0
    note = "note: skipped 1 object the analysis does not use: 1 HostEndpoint"
    assert err == note + "\n"
    assert "skipped" not in out or extra[1] == "json"


def test_nothing_skipped_means_no_note(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "ns.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: empty}\n")
    code, out, err = run(capsys, str(tmp_path))
    assert (code, err) == (0, "")
    assert out == "No workloads found.\n"
