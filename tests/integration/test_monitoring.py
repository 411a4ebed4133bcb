"""deploy/monitoring/: the PrometheusRule and the Grafana dashboard are checked with Prometheus'
own ``promtool`` (Debian package ``prometheus``, which ``make test`` installs as root): the rule
groups pass ``promtool check rules``; every alert fires on recorded series and stays quiet on a
neighbour (``promtool test rules`` on tests/data/monitoring/alerts-test.yaml); every dashboard
query parses as PromQL; the dashboard has the fields Grafana needs; and every series the rules
and the dashboard name is one a live heketipy serves on ``/metrics`` after a scripted run.

A missing promtool fails these tests: they are the only check the queries get.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.manifests import DEPLOY, ROOT
from tests.support.server import ServerProcess, running_server

MONITORING = DEPLOY / "monitoring"
ALERTS = MONITORING / "heketipy-alerts.yaml"
DASHBOARD = MONITORING / "heketipy-dashboard.json"
ALERT_TESTS = ROOT / "tests" / "data" / "monitoring" / "alerts-test.yaml"
# The name alerts-test.yaml's rule_files expects the extracted groups under.
RULES_FILE = "heketipy-rules.yaml"

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SEVERITIES = {"critical", "warning", "info"}
# Grafana's own variables, and a value each dashboard variable takes when the query is checked.
GRAFANA_VARIABLES = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}
VARIABLE_SAMPLES = {"job": ".+"}
# Series Prometheus makes itself rather than reads from heketipy.
SCRAPE_SERIES = {"up"}
METRIC_NAME = re.compile(r"\bheketi(?:py)?_[A-Za-z0-9_]+")
VARIABLE = re.compile(r"\$\{?([A-Za-z_]\w*)\}?")  # $1 is a regex group, no variable


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, (
        "promtool is missing: install the Debian package 'prometheus' "
        "(make test does, as root); the monitoring rules and dashboard are checked with it"
    )
    return path


def run_promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], capture_output=True, text=True, timeout=300, cwd=cwd, check=False
    )


def prometheus_rule() -> dict[str, Any]:
    return yaml.safe_load(ALERTS.read_text())


def rule_groups() -> list[dict[str, Any]]:
    return prometheus_rule()["spec"]["groups"]


def alerting_rules() -> list[dict[str, Any]]:
    return [rule for group in rule_groups() for rule in group["rules"] if "alert" in rule]


def write_rules(directory: Path, groups: list[dict[str, Any]]) -> Path:
    """A plain Prometheus rule file (what promtool reads) holding ``groups``."""
    path = directory / RULES_FILE
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return path


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def query_panels() -> list[dict[str, Any]]:
    return [panel for panel in dashboard()["panels"] if panel["type"] != "row"]


def dashboard_exprs() -> list[tuple[str, str]]:
    """(where, expr) of every dashboard query, ``where`` naming the panel and target."""
    return [
        (f"panel {panel['id']} ({panel['title']}) target {target['refId']}", target["expr"])
        for panel in query_panels()
        for target in panel["targets"]
    ]


def with_sample_values(expr: str) -> str:
    """``expr`` with each Grafana variable replaced by a value it takes at query time."""
    values = GRAFANA_VARIABLES | VARIABLE_SAMPLES

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in values, f"{expr!r} uses ${name}, which the dashboard does not define"
        return values[name]

    return VARIABLE.sub(substitute, expr)


def recording_rules(exprs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """One recording rule per query: ``promtool check rules`` parses each as PromQL."""
    return [{
        "name": "heketipy-dashboard",
        "rules": [
            {"record": f"heketipy_dashboard:query_{number}", "expr": with_sample_values(expr)}
            for number, (_, expr) in enumerate(exprs)
        ],
    }]


def referenced_series() -> dict[str, set[str]]:
    """Metric name -> where the rules or the dashboard use it."""
    uses: dict[str, set[str]] = {}
    sources = [(f"alert {rule['alert']}", rule["expr"]) for rule in alerting_rules()]
    sources += dashboard_exprs()
    for where, expr in sources:
        for name in METRIC_NAME.findall(expr):
            uses.setdefault(name, set()).add(where)
    return uses


# ---------------------------------------------------------------------------------------------
# The PrometheusRule
# ---------------------------------------------------------------------------------------------

def test_prometheus_rule_is_well_formed() -> None:
    doc = prometheus_rule()
    assert doc["apiVersion"] == "monitoring.coreos.com/v1"
    assert doc["kind"] == "PrometheusRule"
    assert doc["metadata"]["namespace"] == "glusterfs"
    names = [rule["alert"] for rule in alerting_rules()]
    assert len(names) == len(set(names)), "alert names repeat"
    for rule in alerting_rules():
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert rule["annotations"]["description"].strip(), rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule["for"]), (rule["alert"], rule["for"])


def test_the_alerts_the_issue_asks_for_exist() -> None:
    alerts = {rule["alert"]: rule["expr"] for rule in alerting_rules()}
    wanted = {
        "HeketipyDown": "up{",
        "HeketipyNoLeader": "heketipy_leader",
        "HeketipyOperationsStuck": "heketipy_operations_in_flight",
        "HeketipyStaleOperations": "heketi_operations_stale_count",
        "HeketipyOperationsFailing": "heketipy_operations_finished_total",
        "HeketipyDriftFound": "heketipy_drift_objects",
        "HeketipyDeviceAlmostFull": "heketipy_device_used_bytes",
        "HeketipyThinPoolDataAlmostFull": "heketipy_device_thinpool_data_used_ratio",
        "HeketipyThinPoolMetadataAlmostFull": "heketipy_device_thinpool_metadata_used_ratio",
        "HeketipyNodeCommandsFailing": "heketipy_node_command_failures_total",
        "HeketipyQueueNearlyFull": "heketipy_queue_waiting_requests",
    }
    for alert, series in wanted.items():
        assert series in alerts.get(alert, ""), alert
    for alert in ("HeketipyDeviceAlmostFull", "HeketipyThinPoolDataAlmostFull",
                  "HeketipyThinPoolMetadataAlmostFull"):
        assert "> 0.85" in alerts[alert], alert


def test_rules_pass_promtool_check(tmp_path: Path) -> None:
    path = write_rules(tmp_path, rule_groups())
    result = run_promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    count = sum(len(group["rules"]) for group in rule_groups())
    assert f"SUCCESS: {count} rules found" in result.stdout, result.stdout


def test_promtool_check_refuses_a_broken_rule(tmp_path: Path) -> None:
    """The check has teeth: an expression that does not parse is refused."""
    broken = [{"name": "broken", "rules": [{"alert": "Broken", "expr": "sum by (node (up)"}]}]
    result = run_promtool("check", "rules", str(write_rules(tmp_path, broken)))
    assert result.returncode != 0
    assert "parse error" in result.stdout + result.stderr


def alert_tests(directory: Path, groups: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    """``promtool test rules`` of alerts-test.yaml against ``groups``."""
    write_rules(directory, groups)
    shutil.copy(ALERT_TESTS, directory / ALERT_TESTS.name)
    return run_promtool("test", "rules", ALERT_TESTS.name, cwd=directory)


def test_every_alert_fires_and_stays_quiet_where_it_should(tmp_path: Path) -> None:
    result = alert_tests(tmp_path, rule_groups())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    cases = [
        case for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"]
        for case in test["alert_rule_test"]
    ]
    for rule in alerting_rules():
        own = [case for case in cases if case["alertname"] == rule["alert"]]
        assert any(case["exp_alerts"] for case in own), f"{rule['alert']} never fires"
        assert any(not case["exp_alerts"] for case in own), f"{rule['alert']} is never quiet"


def test_alert_tests_catch_a_changed_threshold(tmp_path: Path) -> None:
    """The recorded cases pin the thresholds: a device alert moved to 95 % fails them."""
    groups = rule_groups()
    for group in groups:
        for rule in group["rules"]:
            if rule.get("alert") == "HeketipyDeviceAlmostFull":
                rule["expr"] = rule["expr"].replace("> 0.85", "> 0.95")
    result = alert_tests(tmp_path, groups)
    assert result.returncode != 0
    assert "alertname: HeketipyDeviceAlmostFull" in result.stdout + result.stderr


# ---------------------------------------------------------------------------------------------
# The Grafana dashboard
# ---------------------------------------------------------------------------------------------

def test_dashboard_has_the_fields_grafana_needs() -> None:
    board = dashboard()
    assert board["uid"] and board["title"]
    assert isinstance(board["schemaVersion"], int) and board["schemaVersion"] >= 36
    assert {"from", "to"} <= set(board["time"])
    panels = board["panels"]
    ids = [panel["id"] for panel in panels]
    assert all(isinstance(i, int) for i in ids) and len(ids) == len(set(ids)), ids
    cells: dict[tuple[int, int], int] = {}
    for panel in panels:
        assert panel["type"] and panel["title"], panel["id"]
        grid = panel["gridPos"]
        assert {"h", "w", "x", "y"} <= set(grid), panel["id"]
        assert all(isinstance(grid[k], int) and grid[k] >= 0 for k in "hwxy"), panel["id"]
        assert grid["w"] >= 1 and grid["h"] >= 1 and grid["x"] + grid["w"] <= 24, panel["id"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"panels {cells[x, y]} and {panel['id']} overlap"
                cells[x, y] = panel["id"]


def test_dashboard_queries_use_the_datasource_variable() -> None:
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name, variable in variables.items():
        if variable["type"] == "query":
            assert variable["datasource"] == DATASOURCE, name
    for panel in query_panels():
        assert panel["datasource"] == DATASOURCE, panel["id"]
        assert panel["targets"], panel["id"]
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["id"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, (panel["id"], target["refId"])
            assert target["expr"].strip(), (panel["id"], target["refId"])
            used = set(VARIABLE.findall(target["expr"])) - set(GRAFANA_VARIABLES)
            assert used <= set(variables), (panel["id"], used)


def test_dashboard_has_the_panels_an_operator_needs() -> None:
    exprs = " ".join(expr for _, expr in dashboard_exprs())
    for series in (
        "heketipy_operation_duration_seconds_bucket", "heketipy_operations_finished_total",
        "heketipy_node_command_failures_total", "heketipy_node_command_duration_seconds_bucket",
        "heketipy_http_requests_total", "heketipy_queue_waiting_requests",
        "heketipy_operations_in_flight", "heketipy_queue_capacity_requests",
        "heketipy_http_throttled_total", "heketipy_placement_refusals_total",
        "heketipy_device_used_bytes", "heketipy_device_thinpool_data_used_ratio",
        "heketipy_device_thinpool_metadata_used_ratio", "heketipy_drift_objects",
        "heketipy_drift_last_scan_timestamp_seconds", "heketipy_leader",
    ):
        assert series in exprs, series
    for quantile in ("0.5", "0.95", "0.99"):
        assert f"histogram_quantile({quantile}, sum by (le) (rate(heketipy_operation_duration" \
            in exprs, quantile


def test_every_dashboard_query_parses(tmp_path: Path) -> None:
    exprs = dashboard_exprs()
    path = write_rules(tmp_path, recording_rules(exprs))
    result = run_promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout, result.stdout


def test_device_panels_name_devices_by_host_and_device_name(tmp_path: Path) -> None:
    """heketipy_device_* carry ids; the capacity panels join in Heketi's host and device names
    (promtool evaluates the panel's query on recorded series)."""
    device = 'job="heketipy", instance="a", cluster="c1", node="n1", device="d1"'
    heketi = ('job="heketipy", instance="a", cluster="c1", hostname="node1.example.test", '
              'storage_hostname="10.0.0.1", id="d1", device="/dev/sdb", pv_uuid="u1"')
    panels = {panel["title"]: panel for panel in query_panels()}
    cases = {
        "Device fill": ([("heketipy_device_used_bytes", "25x5"), ("heketipy_device_size_bytes",
                                                                 "100x5")], 0.25),
        "Thin-pool data fill": ([("heketipy_device_thinpool_data_used_ratio", "0.5x5")], 0.5),
        "Thin-pool metadata fill": ([("heketipy_device_thinpool_metadata_used_ratio", "0.1x5")],
                                    0.1),
    }
    for title, (series, value) in cases.items():
        (target,) = panels[title]["targets"]
        assert target["legendFormat"] == "{{hostname}} {{device_name}}", title
        rules = [{"name": "panel", "rules": [
            {"record": "panel:value", "expr": with_sample_values(target["expr"])},
        ]}]
        write_rules(tmp_path, rules)
        inputs = [{"series": f"{name}{{{device}}}", "values": values} for name, values in series]
        inputs.append({"series": f"heketi_device_size_bytes{{{heketi}}}", "values": "100x5"})
        expected = (f'panel:value{{{device}, hostname="node1.example.test", '
                    f'device_name="/dev/sdb"}}')
        case = {"rule_files": [RULES_FILE], "evaluation_interval": "1m", "tests": [{
            "interval": "1m", "input_series": inputs,
            "promql_expr_test": [{"expr": "panel:value", "eval_time": "2m",
                                  "exp_samples": [{"labels": expected, "value": value}]}],
        }]}
        (tmp_path / "panel-test.yaml").write_text(yaml.safe_dump(case))
        result = run_promtool("test", "rules", "panel-test.yaml", cwd=tmp_path)
        assert result.returncode == 0, (title, result.stdout + result.stderr)


def test_a_dashboard_query_that_does_not_parse_is_caught(tmp_path: Path) -> None:
    broken = [("broken", 'rate(heketipy_http_requests_total{job=~"$job"}[$__rate_interval]')]
    result = run_promtool("check", "rules", str(write_rules(tmp_path, recording_rules(broken))))
    assert result.returncode != 0


# ---------------------------------------------------------------------------------------------
# The kustomization and how the pieces fit the rest of deploy/
# ---------------------------------------------------------------------------------------------

def test_kustomization_lists_every_file() -> None:
    kustomization = yaml.safe_load((MONITORING / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    generated = {f for gen in kustomization["configMapGenerator"] for f in gen["files"]}
    on_disk = {p.name for p in MONITORING.iterdir() if p.name != "kustomization.yaml"}
    assert listed | generated == on_disk
    (dashboard_map,) = kustomization["configMapGenerator"]
    assert dashboard_map["options"]["labels"]["grafana_dashboard"] == "1"


def test_service_monitor_scrapes_the_service_the_alerts_expect() -> None:
    service = yaml.safe_load((DEPLOY / "heketipy-service.yaml").read_text())
    monitor = yaml.safe_load((MONITORING / "heketipy-servicemonitor.yaml").read_text())
    labels = service["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    ports = {port["name"] for port in service["spec"]["ports"]}
    assert {endpoint["port"] for endpoint in monitor["spec"]["endpoints"]} <= ports
    assert {endpoint["path"] for endpoint in monitor["spec"]["endpoints"]} == {"/metrics"}
    # The Prometheus Operator names the job after the Service: the alerts' job="...".
    jobs = {m for rule in alerting_rules() for m in re.findall(r'job="([^"]*)"', rule["expr"])}
    assert jobs == {service["metadata"]["name"]}


# ---------------------------------------------------------------------------------------------
# Every series the rules and the dashboard use is one heketipy serves
# ---------------------------------------------------------------------------------------------

# A volume create runs twice (one retry, re-planned); its `gluster volume start` fails both times.
CREATE_ATTEMPTS = 2
SCRIPTED_FAULTS = {"faults": [
    {"command": "gluster volume start", "nth": nth, "exit": 5}
    for nth in range(1, CREATE_ATTEMPTS + 1)
]}


@pytest.fixture
def scripted_server(tmp_path: Path) -> Iterator[ServerProcess]:
    glusterfs = {
        "executor": "simulator",
        "operation_retry_limits": {"volume_create": CREATE_ATTEMPTS - 1},
    }
    heketipy = {
        "simulator": {
            "device_size_gb": 100, "latency_ms": {"lvm": 0, "fs": 0, "gluster": 0},
            "faults": SCRIPTED_FAULTS,
        },
        # Frequent scans: the thin-pool gauges get samples while the kept volume exists.
        "drift_scan_interval_s": 0.2,
    }
    with running_server(tmp_path, glusterfs=glusterfs, heketipy=heketipy) as server:
        yield server


def scripted_run(server: ServerProcess) -> None:
    """Topology, a create that fails on a node command, a create, a refused create (no space),
    an expansion, another create (kept) and a delete."""
    cluster = server.request("POST", "/clusters", {"file": True, "block": True}).json()["id"]
    for i in range(1, 4):
        final = server.async_call("POST", "/nodes", {
            "zone": i, "cluster": cluster,
            "hostnames": {"manage": [f"node{i}.example.test"], "storage": [f"10.0.0.{i}"]},
        })
        assert final.status == 303, final.text
        node = final.headers["Location"].rsplit("/", 1)[1]
        assert server.async_call("POST", "/devices", {"node": node, "name": "/dev/sdb"}).status \
            == 204
    replica3 = {"type": "replicate", "replicate": {"replica": 3}}
    failed = server.async_call("POST", "/volumes", {"size": 1, "durability": replica3})
    assert failed.status == 500, failed.text
    created = server.async_call("POST", "/volumes", {"size": 1, "durability": replica3})
    assert created.status == 303, created.text
    volume = created.headers["Location"]
    refused = server.request("POST", "/volumes", {"size": 100000, "durability": replica3})
    if refused.status == 202:
        refused = server.wait_queue(refused.headers["Location"])
    assert refused.status == 500 and "No space" in refused.text, refused.text
    assert server.async_call("POST", f"{volume}/expand", {"expand_size": 1}).status == 303
    kept = server.async_call("POST", "/volumes", {"size": 1, "durability": replica3})
    assert kept.status == 303, kept.text
    assert server.async_call("DELETE", volume).status == 204


def metrics_after_a_drift_scan(server: ServerProcess, limit_s: float = 60) -> str:
    """``/metrics`` once a drift scan has reported the thin pools of the kept volume."""
    deadline = time.monotonic() + limit_s
    while True:
        reply = server.request("GET", "/metrics", role="none")
        assert reply.status == 200
        if "heketipy_device_thinpool_data_used_ratio{" in reply.text:
            return reply.text
        assert time.monotonic() < deadline, "no drift scan reported the thin pools"
        time.sleep(0.1)


LABEL_PAIR = re.compile(r'(\w+)="(?:[^"\\]|\\.)*"')
# Labels Prometheus adds to every scraped series.
TARGET_LABELS = {"job", "instance"}


def exposed_series(exposition: str) -> dict[str, set[str]]:
    """Series name -> the label names its samples carry (``__name__`` included, so a series
    with samples is never empty), from a text exposition: every family of a ``# TYPE`` line (a
    histogram serves ``_bucket``, ``_count`` and ``_sum``), samples or not, and every sample's
    name."""
    series: dict[str, set[str]] = {}
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            suffixes = ("_bucket", "_count", "_sum") if kind == "histogram" else ("",)
            for suffix in suffixes:
                series.setdefault(name + suffix, set())
        elif line and not line.startswith("#"):
            name = re.split(r"[{ ]", line, maxsplit=1)[0]
            labels = set(LABEL_PAIR.findall(line[len(name):].split("} ", 1)[0]))
            series.setdefault(name, set()).update(labels | {"__name__"})
    return series


def labels_named(expr: str) -> set[str]:
    """The label names ``expr`` matches on or aggregates by."""
    names = set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)\s*\"", expr))
    for group in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", expr):
        names.update(n.strip() for n in group.split(",") if n.strip())
    return names


def test_every_referenced_series_is_served(scripted_server: ServerProcess) -> None:
    scripted_run(scripted_server)
    text = metrics_after_a_drift_scan(scripted_server)
    served = exposed_series(text)
    referenced = referenced_series()
    missing = {name: sorted(uses) for name, uses in referenced.items() if name not in served}
    assert not missing, f"used but not served by /metrics: {missing}"
    assert len(referenced) > 20
    # The label values the rules and the dashboard filter on appear after the run.
    for value in ('type="create-volume"', 'outcome="succeeded"'):
        assert value in text, value
    # Every label a query matches or groups by is one its series carry (checked where the run
    # produced samples of every series the query names).
    sources = [(f"alert {rule['alert']}", rule["expr"]) for rule in alerting_rules()]
    checked = 0
    for where, expr in sources + dashboard_exprs():
        names = METRIC_NAME.findall(expr)
        if not names or not all(served[name] for name in names):
            continue
        carried = set().union(*(served[name] for name in names)) | TARGET_LABELS
        assert labels_named(expr) <= carried, (where, labels_named(expr) - carried)
        checked += 1
    assert checked > 20


def test_every_name_a_query_uses_is_a_heketipy_series_or_up() -> None:
    """Every name a query uses is a heketi(py)_ series or one Prometheus makes (``up``): the
    cross-check above sees them all."""
    sources = [rule["expr"] for rule in alerting_rules()] + [e for _, e in dashboard_exprs()]
    for expr in sources:
        plain = re.sub(r'"[^"]*"', '""', with_sample_values(expr))  # no label values
        plain = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", plain)
        plain = re.sub(r"\{[^}]*\}", "", plain)  # no matchers
        plain = re.sub(r"\[[^\]]*\]", "", plain)  # no ranges
        words = set(re.findall(r"\b[A-Za-z_][A-Za-z0-9_:]*\b(?!\s*\()", plain))
        words -= {"and", "or", "unless", "bool", "offset", "le", "Inf", "NaN"}
        assert words - SCRAPE_SERIES <= set(METRIC_NAME.findall(plain)), (expr, words)
