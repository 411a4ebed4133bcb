"""heketipy-cli against a live heketipy server: what the golden files do not pin down."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from heketipy.gocompat.json_encode import text_compact
from tests.cli.conftest import cli
from tests.support.server import ADMIN_KEY, ServerProcess, running_server


def api(server: ServerProcess, path: str) -> object:
    reply = server.request("GET", path)
    assert reply.status == 200, reply.text
    return json.loads(reply.body)


def test_topology_load_twice_changes_nothing_the_second_time(
        server: ServerProcess, topology_file: Path) -> None:
    first = cli(server, "topology", "load", f"--json={topology_file}")
    assert first.code == 0, first.err
    assert first.out.count("Adding device") == 6 and "Creating cluster" in first.out
    before = api(server, "/db/dump")
    second = cli(server, "topology", "load", f"--json={topology_file}")
    assert second.code == 0, second.err
    lines = second.out.splitlines()
    assert len(lines) == 9
    assert all(line.startswith(("\tFound node", "\t\tFound device")) for line in lines)
    assert api(server, "/db/dump") == before


def test_json_output_is_the_api_json(server: ServerProcess, topology_file: Path) -> None:
    assert cli(server, "topology", "load", f"--json={topology_file}").code == 0
    created = cli(server, "volume", "create", "--size=1", "--name=jv", "--json")
    assert created.code == 0 and not created.out.endswith("\n")
    volume = json.loads(created.out)
    assert volume == api(server, f"/volumes/{volume['id']}")
    assert created.out == text_compact(api(server, f"/volumes/{volume['id']}"))
    cluster_id = volume["cluster"]
    for argv, path in (
        (("cluster", "info", cluster_id), f"/clusters/{cluster_id}"),
        (("cluster", "list"), "/clusters"),
        (("volume", "list"), "/volumes"),
        (("node", "info", volume["bricks"][0]["node"]), f"/nodes/{volume['bricks'][0]['node']}"),
        (("device", "info", volume["bricks"][0]["device"]),
         f"/devices/{volume['bricks'][0]['device']}"),
    ):
        shown = cli(server, *argv, "--json")
        assert shown.code == 0, shown.err
        assert shown.out == text_compact(api(server, path)), argv
    topology = json.loads(cli(server, "topology", "info", "--json").out)
    assert [c["id"] for c in topology["clusters"]] == [cluster_id]
    assert topology["clusters"][0]["volumes"] == [api(server, f"/volumes/{volume['id']}")]


def test_bad_credentials_give_the_servers_message(server: ServerProcess) -> None:
    result = cli(server, "cluster", "list", env={"HEKETI_CLI_KEY": "wrong"})
    assert result.code == 255 and result.out == ""
    assert result.err == (
        "Error: Invalid JWT token: signature is invalid (client and server secrets may not match)\n"
    )
    result = cli(server, "--user", "nobody", "cluster", "list")
    assert (result.code, result.err) == (255, "Error: Invalid JWT token: Unknown user\n")


def test_errors_are_one_line_never_a_traceback(server: ServerProcess) -> None:
    for argv in (("topology", "info", "-T", "{{range .ClusterList}}"),
                 ("volume", "create", "--size=x"),
                 ("node", "info", "0" * 32),
                 ("cluster", "list", "-Z")):
        result = cli(server, *argv)
        assert result.code == 255, argv
        assert result.err.startswith("Error: ") and result.err.count("\n") == 1, result.err
        assert "Traceback" not in result.err


@pytest.mark.slow
def test_progress_indicator_only_on_a_terminal(tmp_path: Path, topology_file: Path) -> None:
    (tmp_path / "slow").mkdir()
    with running_server(tmp_path / "slow", env={"HEKETI_MOCK_DEVICE_SIZE_GB": "500"},
                        heketipy={"mock_latency_ms": 300}) as slow:
        assert cli(slow, "topology", "load", f"--json={topology_file}").code == 0
        on_tty = cli(slow, "volume", "create", "--size=1", "--name=a", tty_err=True)
        assert on_tty.code == 0 and on_tty.out.startswith("Name: a\n")
        assert "waiting for the operation" in on_tty.err
        plain = cli(slow, "volume", "create", "--size=1", "--name=b")
        assert plain.code == 0 and plain.err == ""


def test_setup_openshift_heketi_storage(server: ServerProcess, topology_file: Path,
                                        tmp_path: Path) -> None:
    assert cli(server, "topology", "load", f"--json={topology_file}").code == 0
    listfile = tmp_path / "heketi-storage.json"
    result = cli(server, "setup-openshift-heketi-storage", f"--listfile={listfile}")
    assert result.code == 0, result.err
    assert result.out == f"Saving {listfile}\n"
    document = json.loads(listfile.read_text())
    kinds = [item["kind"] for item in document["items"]]
    assert document["kind"] == "List" and kinds == ["Secret", "Endpoints", "Service", "Job"]
    database = base64.b64decode(document["items"][0]["data"]["heketi.db"])
    assert database.startswith(b"SQLite format 3")
    volumes = [api(server, f"/volumes/{v}") for v in api(server, "/volumes")["volumes"]]
    [db_volume] = [v for v in volumes if v["name"] == "heketidbstorage"]
    assert db_volume["size"] == 2
    assert "performance.write-behind off" in db_volume["glustervolumeoptions"]
    hosts = sorted(s["addresses"][0]["ip"] for s in document["items"][1]["subsets"])
    assert hosts == sorted(db_volume["mount"]["glusterfs"]["hosts"])
    job = document["items"][3]["spec"]["template"]["spec"]
    assert job["volumes"][0]["glusterfs"]["path"] == "heketidbstorage"
    again = cli(server, "setup-heketi-db-storage", f"--listfile={listfile}")
    assert (again.code, again.err) == (255, "Error: Volume heketidbstorage already exists\n")


def test_console_script(server: ServerProcess) -> None:
    script = Path(sys.executable).parent / "heketipy-cli"
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "heketipy.cli.main"]
    done = subprocess.run(
        [*argv, "--server", server.base_url, "--user", "admin", "--secret", ADMIN_KEY,
         "cluster", "list"], capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, "Clusters:\n", "")
    done = subprocess.run([*argv, "frobnicate"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 255
    assert done.stderr == (
        'Error: unknown command "frobnicate" for "heketi-cli"\n'
        "Run 'heketi-cli --help' for usage.\n"
    )
