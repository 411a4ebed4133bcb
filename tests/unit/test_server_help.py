"""``heketipy --help`` says what runs without --config (the built-in defaults) and names the
offline ``db`` commands."""

from __future__ import annotations

import pytest

from heketipy.__main__ import main
from heketipy.config import load_settings


def help_text(capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def test_help_describes_the_built_in_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    text = " ".join(help_text(capsys).split())
    defaults = load_settings(None, {}, disable_auth=True)
    # The figures in the text are the ones the embedded defaults really use.
    assert f"{defaults.listen}:{defaults.port}" in text
    assert f"executor: {defaults.glusterfs.executor}" in text
    assert f"database: {defaults.glusterfs.db}" in text
    assert f"{defaults.heketipy.simulator.device_size_gb} GiB devices" in text
    assert "var/secrets.json" in text and "admin key is printed" in text
    assert "HEKETI_" in text


def test_help_names_the_db_commands(capsys: pytest.CaptureFixture[str]) -> None:
    text = " ".join(help_text(capsys).split())
    assert "heketipy db import --jsonfile FILE --dbfile DB" in text
    assert "heketipy db export --dbfile DB --jsonfile FILE" in text
    assert "heketipy db import --help" in text


def test_help_names_the_token_command(capsys: pytest.CaptureFixture[str]) -> None:
    text = " ".join(help_text(capsys).split())
    assert "heketipy token [--user USER] METHOD PATH" in text
    assert "HEKETI_CLI_KEY" in text
    assert "heketipy token --help" in text
