"""The ``heketipy.ha`` settings: documented defaults, and one clear line per bad value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from heketipy.config import ConfigError, load_settings
from heketipy.ha.leadership import LeaseTiming


def _load(tmp_path: Path, ha: dict[str, object]) -> object:
    path = tmp_path / "heketi.json"
    path.write_text(json.dumps({
        "use_auth": False, "glusterfs": {"executor": "mock", "db": str(tmp_path / "h.db")},
        "heketipy": {"ha": ha},
    }))
    return load_settings(str(path), env={})


def test_defaults(tmp_path: Path) -> None:
    ha = _load(tmp_path, {}).heketipy.ha  # type: ignore[attr-defined]
    assert (ha.enabled, ha.lease_duration_s, ha.renew_deadline_s, ha.retry_period_s) == (
        False, 15.0, 10.0, 2.0)
    assert (ha.lease_name, ha.lease_namespace, ha.identity, ha.kubernetes_lease) == (
        "heketipy", "", "", "auto")
    assert LeaseTiming.of(ha) == LeaseTiming()


def test_values_are_read(tmp_path: Path) -> None:
    ha = _load(tmp_path, {
        "enabled": True, "lease_duration_s": 30, "renew_deadline_s": 20, "retry_period_s": 1.5,
        "lease_name": "heketipy-a", "lease_namespace": "storage", "identity": "me",
        "kubernetes_lease": False,
    }).heketipy.ha  # type: ignore[attr-defined]
    assert LeaseTiming.of(ha) == LeaseTiming(30, 20, 1.5)
    assert (ha.enabled, ha.lease_name, ha.lease_namespace, ha.identity, ha.kubernetes_lease) == (
        True, "heketipy-a", "storage", "me", False)


@pytest.mark.parametrize(("ha", "message"), [
    ({"renew_deadline_s": 20}, "heketipy.ha: leader election needs 0 < retry_period_s < "
     "renew_deadline_s < lease_duration_s (got 2.0, 20.0, 15.0)"),
    ({"retry_period_s": 0}, "heketipy.ha.retry_period_s: must be > 0.0 (got 0)"),
    ({"kubernetes_lease": "maybe"},
     "heketipy.ha.kubernetes_lease: must be true, false or \"auto\" (got 'maybe')"),
    ({"lease_name": "Bad_Name"},
     "heketipy.ha.lease_name: must be a lowercase DNS name (got 'Bad_Name')"),
    ({"lease_namespace": "No"}, "heketipy.ha.lease_namespace: must be a namespace name"),
    ({"enabled": "yes"}, "heketipy.ha.enabled: must be a boolean (got 'yes')"),
])
def test_bad_values_are_one_clear_line(tmp_path: Path, ha: dict[str, object],
                                       message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, ha)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
