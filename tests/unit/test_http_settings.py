"""The ``heketipy.http`` settings: defaults, Go-like key matching, refused values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from heketipy.config import ConfigError, HttpSettings, load_settings


def _load(tmp_path: Path, http: Any) -> HttpSettings:
    path = tmp_path / "heketi.json"
    path.write_text(json.dumps({
        "jwt": {"admin": {"key": "a"}, "user": {"key": "u"}},
        "glusterfs": {"executor": "mock", "db": str(tmp_path / "heketi.db")},
        "heketipy": {"data_dir": str(tmp_path), "http": http},
    }))
    return load_settings(str(path), {}).heketipy.http


def test_defaults(tmp_path: Path) -> None:
    http = _load(tmp_path, {})
    assert (http.max_body_kib, http.max_body_kib_by_route) == (64, {})
    assert (http.max_volume_options, http.max_volume_option_chars) == (64, 1024)
    assert http.max_request_clusters == 32
    assert (http.header_read_timeout_s, http.body_read_timeout_s) == (60, 60)
    assert (http.keepalive_timeout_s, http.max_connections) == (75, 512)


def test_keys_match_like_go_and_routes_are_kept(tmp_path: Path) -> None:
    http = _load(tmp_path, {"Max_Body_KiB": 8, "MAX_CONNECTIONS": 3,
                            "max_body_kib_by_route": {"POST /nodes/{id}/tags": 2},
                            "header_read_timeout_s": 0.5})
    assert (http.max_body_kib, http.max_connections, http.header_read_timeout_s) == (8, 3, 0.5)
    assert http.max_body_kib_by_route == {"POST /nodes/{id}/tags": 2}


@pytest.mark.parametrize(("http", "text"), [
    ({"max_body_kib_by_route": {"/volumes": 4}},
     "invalid configuration: heketipy.http.max_body_kib_by_route: "
     "route keys look like \"POST /volumes\" (got '/volumes')"),
    ({"max_body_kib": 0}, "invalid configuration: heketipy.http.max_body_kib: must be >= 1 (got 0)"),
    ({"header_read_timeout_s": 0},
     "invalid configuration: heketipy.http.header_read_timeout_s: must be > 0.0 (got 0)"),
    ({"max_connections": "5"},
     "invalid configuration: heketipy.http.max_connections: must be an integer (got '5')"),
])
def test_bad_values_are_refused_with_the_key(tmp_path: Path, http: Any, text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, http)
    assert str(caught.value) == text
