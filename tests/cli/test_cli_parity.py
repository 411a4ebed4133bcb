"""heketipy-cli answers as heketi-cli does where the golden files have no recording (issue 10,
item 14): size checks, unparseable topology files, topology info's layout, completion."""

from __future__ import annotations

import io
import json
import shlex
import subprocess
from pathlib import Path

import pytest

from heketipy.cli.main import run
from tests.cli.conftest import cli
from tests.support.server import ServerProcess

SIZE_CASES = [
    # heketi-cli's --size defaults to 0 and only 0 means "missing"; a negative size goes to
    # the server, whose validation refuses it.
    ("--size=0", "Error: Missing volume size\n"),
    ("--size=-1", "Error: validation failed: size: must be no less than 1.\n"),
]


@pytest.mark.parametrize("group", ["volume", "blockvolume"])
def test_size_zero_is_missing_and_negative_is_the_servers_validation(
        server: ServerProcess, group: str) -> None:
    for flag, expected in SIZE_CASES:
        result = cli(server, group, "create", flag)
        assert (result.code, result.out, result.err) == (255, "", expected), (group, flag)
    result = cli(server, group, "create")
    assert (result.code, result.err) == (255, "Error: Missing volume size\n")


@pytest.mark.parametrize("content", [
    b'{"clusters": {}}',
    b'{"clusters": [{"nodes": {}}]}',
    b'{"clusters": [{"nodes": [{"node": {"zone": "1"}}]}]}',
    b'{"clusters": [{"nodes": [{"node": {"hostnames": {"manage": "h"}}}]}]}',
    b'{"clusters": [{"nodes": [{"devices": [7]}]}]}',
    b'{"clusters": [{"nodes": [{"devices": [{"name": 1}]}]}]}',
    b'{"clusters": [{"file": "yes"}]}',
    b'[]',
    b'"clusters"',
    b"\xff\xfe\x00\x01 binary \x89PNG",
], ids=["clusters-object", "nodes-object", "zone-string", "manage-string", "device-number",
        "device-name-number", "file-string", "array", "string", "binary"])
def test_a_file_that_does_not_decode_is_unable_to_parse(
        server: ServerProcess, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "topology.json"
    path.write_bytes(content)
    result = cli(server, "topology", "load", f"--json={path}")
    assert (result.code, result.out, result.err) == (
        255, "", "Error: Unable to parse config file\n")
    assert server.request("GET", "/clusters").json() == {"clusters": []}


def test_go_decoding_rules_for_topology_files(server: ServerProcess, tmp_path: Path) -> None:
    """Keys match case-insensitively, unknown keys and nulls are ignored, as Go decodes."""
    document = {"Clusters": [{"NODES": [{"Node": {
        "Hostnames": {"Manage": ["n1.example.test"], "storage": ["10.0.0.1"]}, "zone": 1,
        "extra": True}, "devices": ["/dev/sdb", {"NAME": "/dev/sdc"}]}],
        "block": None}], "comment": "ignored"}
    path = tmp_path / "topology.json"
    path.write_text(json.dumps(document))
    result = cli(server, "topology", "load", f"--json={path}")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].startswith("Creating cluster ... ID: ")
    assert lines[1:4] == ["\tAllowing file volumes on cluster.",
                          "\tAllowing block volumes on cluster."] + [lines[3]]
    assert lines[3].startswith("\tCreating node n1.example.test ... ID: ")
    assert "\t\tAdding device /dev/sdb ... OK" in lines
    assert "\t\tAdding device /dev/sdc ... OK" in lines


def _completion(shell: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    assert run(["completion", shell], {}, out, err) == 0, err.getvalue()
    return out.getvalue()


def _bash_complete(script: str, *words: str) -> list[str]:
    """What bash offers after `words` (the last one being completed)."""
    quoted = " ".join(shlex.quote(w) for w in words)
    program = (f"{script}\nCOMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}\n"
               '_heketi_cli; printf "%s\\n" "${COMPREPLY[@]}"')
    done = subprocess.run(["bash", "--norc", "-c", program], capture_output=True, text=True,
                          timeout=30, check=True)
    return done.stdout.split()


def test_bash_completion_follows_the_command_tree() -> None:
    script = _completion("bash")
    assert _bash_complete(script, "heketi-cli", "vol") == ["volume"]
    assert _bash_complete(script, "heketi-cli", "volume", "cr") == ["create"]
    assert _bash_complete(script, "heketi-cli", "--json", "volume", "create", "--si") == ["--size"]
    assert "set-block-hosting-restriction" in _bash_complete(script, "heketi-cli", "volume", "")


def test_zsh_completion_is_a_zsh_script() -> None:
    script = _completion("zsh")
    assert script.startswith("#compdef heketi-cli heketipy-cli\n")
    assert script != _completion("bash") and "COMPREPLY" not in script
    assert "compadd" in script and "compdef _heketi-cli heketi-cli heketipy-cli" in script
    assert "        'heketi-cli volume' 'clone create delete endpoint expand info list " in script


def test_duplicate_name_with_another_cluster_without_devices(
        server: ServerProcess, topology_file: Path) -> None:
    """Heketi drops the cluster that has the name before placement (internals 1.3) and then
    reports only the clusters it tried: the other cluster's own failure, as in
    http/volumes-multicluster.json seq 38 ("ineligible cluster and cluster without nodes")."""
    assert cli(server, "topology", "load", f"--json={topology_file}").code == 0
    assert cli(server, "volume", "create", "--size=1", "--name=dup").code == 0
    other = server.request("POST", "/clusters", {"file": True, "block": True}).json()["id"]
    # Another size: the same create again would be a retry, answered with the volume (README).
    result = cli(server, "volume", "create", "--size=2", "--name=dup")
    assert (result.code, result.err) == (
        255, "Error: Failed to allocate new volume: No nodes in cluster\n")
    node = {"zone": 9, "hostnames": {"manage": ["bare.example.test"], "storage": ["10.0.9.1"]},
            "cluster": other}
    assert server.async_call("POST", "/nodes", node).status == 303
    result = cli(server, "volume", "create", "--size=2", "--name=dup")
    assert (result.code, result.err) == (
        255, "Error: Failed to allocate new volume: No online storage devices in cluster\n")
