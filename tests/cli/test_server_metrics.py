"""`heketipy-cli server metrics` (issue 15, item 4): heketipy's own command, a short human
summary of /metrics parsed with prometheus_client's text parser.

heketi-cli has no such command. The deliberate differences from heketi-cli's help: the command
is hidden from `server --help`'s listing (which stays exactly heketi-cli's,
tests/cli/test_help_texts.py::test_server_group_long_text) and its own help says what it is."""

from __future__ import annotations

import json
from pathlib import Path

from heketipy.api.metrics import operation_counts, render_metrics
from heketipy.cli.metrics_summary import Histogram, summary
from heketipy.domain.entities import Cluster, Device, Node
from heketipy.domain.placement import NoSpaceError
from heketipy.domain.state import State
from heketipy.operations.metrics import RuntimeMetrics
from tests.cli.conftest import THREE_NODES, cli
from tests.cli.test_help_texts import help_of
from tests.support.server import ServerProcess

C, N1, N2, D1, D2 = ("c" * 32, "1" * 32, "2" * 32, "d1" * 16, "d2" * 16)
ID1, ID2, DEV1, DEV2 = N1, N2, D1, D2
NOW = 1_800_000_000.0


def known_state() -> State:
    state = State()
    state.insert(Cluster(id=C))
    for node_id, host in ((N1, "node1"), (N2, "node2")):
        state.insert(Node(id=node_id, cluster_id=C, zone=1, manage=[host], storage=[host]))
    state.insert(Device(id=D1, node_id=N1, name="/dev/sdb", total_kib=100 * 2**20,
                        used_kib=90 * 2**20, free_kib=10 * 2**20))
    state.insert(Device(id=D2, node_id=N2, name="/dev/sdb", total_kib=100 * 2**20,
                        used_kib=10 * 2**20, free_kib=90 * 2**20))
    return state


def known_exposition() -> str:
    state = known_state()
    metrics = RuntimeMetrics()
    for seconds in (0.3, 0.3, 0.3, 4.0):
        metrics.operation_started("create-volume")
        metrics.operation_finished("create-volume", "succeeded", seconds)
    metrics.operation_finished("create-volume", "rolled_back", 20.0)
    nodes = metrics.node_commands(state)
    for _ in range(3):
        nodes.command_ran("node2", "lvcreate", 0.02)
        nodes.command_failed("node2", "lvcreate", "5")
    nodes.command_ran("node1", "gluster volume create", 1.5)
    nodes.command_failed("node1", "gluster volume create", "timeout")
    metrics.placement_refused(NoSpaceError("full"))
    metrics.db_commit(0.004, 2)
    metrics.set_leader(True)
    metrics.drift_scanned([("brick-lv", "orphaned")], {D1: (0.86, 0.05)}, NOW - 60)
    heketi = render_metrics(state, operation_counts(state, set()))
    return heketi + metrics.render(state, 2)


def test_summary_of_a_known_exposition() -> None:
    assert summary(known_exposition(), now_s=NOW) == (
        "Server: active\n"
        "Queue: 2 waiting, 0 in flight, 0 refused with 429\n"
        "Operations:\n"
        "  TYPE           OUTCOME      COUNT  P50     P95\n"
        # one observation in the (10, 30] bucket: linear inside it, as histogram_quantile
        "  create-volume  rolled_back  1      20.00s  29.00s\n"
        "  create-volume  succeeded    4      417ms   4.50s\n"
        "Failing node commands:\n"
        f"  COMMAND                NODE{' ' * 28}  EXIT     COUNT\n"
        f"  lvcreate               {ID2}  5        3\n"
        f"  gluster volume create  {ID1}  timeout  1\n"
        "Slowest node commands:\n"
        f"  COMMAND                NODE{' ' * 28}  COUNT  P50    P95\n"
        f"  gluster volume create  {ID1}  1      1.75s  2.42s\n"
        f"  lvcreate               {ID2}  3      30ms   48ms\n"
        "Fullest devices (2 of 2):\n"
        f"  DEVICE{' ' * 26}  NODE{' ' * 28}  USED   SIZE GiB  THINPOOL DATA  METADATA\n"
        f"  {DEV1}  {ID1}  90.0%  100.0     86.0%          5.0%\n"
        f"  {DEV2}  {ID2}  10.0%  100.0     -              -\n"
        "Placement refusals: no_space: 1\n"
        "Database commits: 1, p50 4ms, p95 5ms\n"
        "Drift: last scan 2027-01-15 07:59:00 UTC (60s ago): brick-lv orphaned: 1\n"
    )


def test_histogram_quantile_like_prometheus() -> None:
    histogram = Histogram({0.1: 0, 0.5: 10, 1.0: 20, float("inf"): 21}, 21)
    assert histogram.quantile(0.5) == 0.5 + 0.5 * (10.5 - 10) / 10
    assert histogram.quantile(0.25) == 0.1 + 0.4 * 5.25 / 10
    assert histogram.quantile(0.99) == 1.0  # in the +Inf bucket: the highest finite bound
    assert Histogram().quantile(0.5) is None


def test_a_server_without_heketipy_series() -> None:
    state = State()
    text = render_metrics(state, operation_counts(state, set()))
    assert summary(text) == (
        "The server exposes no heketipy metrics (is it Heketi rather than heketipy?)\n"
    )


def test_help_says_it_is_heketipys_own_command() -> None:
    text = help_of("server", "metrics")
    assert text.startswith("A heketipy command that heketi-cli does not have. ")
    assert "\nUsage:\n  heketi-cli server metrics [flags]\n" in text
    # heketi-cli's own `server --help` listing is unchanged: the command is hidden there.
    assert "metrics" not in help_of("server")


def test_live_server(server: ServerProcess, tmp_path: Path) -> None:
    topology = tmp_path / "topology.json"
    topology.write_text(json.dumps(THREE_NODES))
    assert cli(server, "topology", "load", f"--json={topology}").code == 0
    result = cli(server, "server", "metrics")
    assert (result.code, result.err) == (0, "")
    lines = result.out.splitlines()
    assert lines[0] == "Server: active"
    assert lines[1] == "Queue: 0 waiting, 0 in flight, 0 refused with 429"
    rows = {tuple(line.split()[:3]) for line in lines if line.startswith("  add-")}
    assert rows == {("add-node", "succeeded", "3"), ("add-device", "succeeded", "6")}
    assert "Failing node commands: none" in lines
    assert "Fullest devices (5 of 6):" in lines
    assert lines[-1] == "Drift: no scan yet (heketipy.drift_scan_interval_s)"
