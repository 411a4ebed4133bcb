"""heketipy-cli's cobra-like parsing, help and Go-template rendering (no server needed)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from heketipy.cli.commandline import UsageError, parse
from heketipy.cli.gotemplate import TemplateError, execute
from heketipy.cli.main import build_root, run

GLOBAL_GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden" / "cli" / "global.json"


def run_text(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), {}, out, err)
    return code, out.getvalue(), err.getvalue()


def test_flags_may_precede_the_sub_command() -> None:
    inv = parse(build_root(), ["-s", "http://x", "--json", "node", "settags", "-e", "id", "a:b"])
    assert inv.command.path == "heketi-cli node settags"
    assert inv.args == ["id", "a:b"]
    assert (inv["server"], inv["json"], inv["exact"]) == ("http://x", True, True)


def test_flag_errors_read_like_pflag() -> None:
    with pytest.raises(UsageError, match='invalid argument "x" for "--size" flag: '
                                         'strconv.ParseInt: parsing "x": invalid syntax'):
        parse(build_root(), ["volume", "create", "--size=x"])
    with pytest.raises(UsageError, match="unknown shorthand flag: 'Z' in -Z"):
        parse(build_root(), ["cluster", "list", "-Z"])
    with pytest.raises(UsageError, match="flag needs an argument: --name"):
        parse(build_root(), ["volume", "create", "--name"])


def test_repeated_tls_cert_flags_accumulate() -> None:
    inv = parse(build_root(), ["-C", "a.pem", "--tls-cert=b.pem,c.pem", "cluster", "list"])
    assert inv["tls-cert"] == ["a.pem", "b.pem", "c.pem"]


def test_help_command_and_help_flag_agree() -> None:
    assert run_text("help", "volume")[1] == run_text("volume", "--help")[1]
    code, out, _ = run_text("volume", "create", "-h")
    assert code == 0 and out.startswith("Create a GlusterFS volume\n\nUsage:\n  heketi-cli volume create [flags]")
    assert "      --replica int" in out and "(default 3)" in out


def test_unknown_command_suggests_a_close_name() -> None:
    code, _, err = run_text("clustr")
    assert code == 255
    assert err == ('Error: unknown command "clustr" for "heketi-cli"\n\nDid you mean this?\n'
                   "\tcluster\n\nRun 'heketi-cli --help' for usage.\n")


def test_setup_storage_aliases_resolve() -> None:
    root = build_root()
    for name in ("setup-heketi-db-storage", "setup-kubernetes-heketi-storage"):
        assert parse(root, [name]).command.name == "setup-openshift-heketi-storage"


TOPOLOGY = {"clusters": [{"id": "c1", "file": True, "block": False, "volumes": [],
                          "nodes": [{"id": "n1", "hostnames": {"manage": ["h1"]}, "devices": []}]}]}


def test_go_template_subset() -> None:
    source = ("{{range .ClusterList}}{{.Id}}:{{if .Block}}block{{else}}file{{end}}"
              "{{range .Nodes}} {{.Hostnames.Manage}}{{end}} {{len .Nodes}}\n{{end}}")
    assert execute(source, TOPOLOGY) == "c1:file [h1] 1\n"
    assert execute("{{- range .ClusterList -}} x {{- end}}", TOPOLOGY) == "x"


def test_go_template_errors() -> None:
    with pytest.raises(TemplateError, match=r"at <\.Nope>: can't evaluate field Nope in type "
                                            r"api\.Cluster"):
        execute("{{range .ClusterList}}{{.Nope}}{{end}}", TOPOLOGY)
    with pytest.raises(TemplateError, match="unexpected EOF"):
        execute("{{range .ClusterList}}", TOPOLOGY)


def test_recorded_help_texts_every_way_they_are_asked_for() -> None:
    """The golden files record two help texts: the root usage (bare `heketi-cli`, with its
    Examples block) and the cluster group's help. `--help`, `-h`, `help <command>` and a
    group without sub-command must print exactly those."""
    entries = {e["seq"]: e for e in json.loads(GLOBAL_GOLDEN.read_text())["entries"]}
    root_usage, cluster_help = entries[3]["stderr"], entries[19]["stdout"]
    assert "Examples:\n  $ heketi-cli volume list\n" in root_usage
    for argv in (["--help"], ["-h"], ["help"]):
        code, out, err = run_text(*argv)
        assert (code, err) == (0, "") and out == "Command line program for Heketi\n\n" + root_usage
    for argv in (["cluster", "--help"], ["cluster", "-h"], ["help", "cluster"], ["cluster"],
                 ["cluster", "frobnicate"]):
        assert run_text(*argv) == (0, cluster_help, ""), argv
