"""Tests of heketipy.config: heketi.json loading, HEKETI_* overrides, embedded defaults."""

from __future__ import annotations

import copy
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from heketipy.config import (
    ConfigError,
    GlusterfsSettings,
    KubeExecSettings,
    Settings,
    SshExecSettings,
    load_settings,
)

GOLDEN_HTTP = Path(__file__).resolve().parents[1] / "data" / "golden" / "http"

BASE: dict[str, Any] = {
    "_comment": "unknown keys are ignored",
    "port": "18181",
    "use_auth": True,
    "jwt": {"admin": {"key": "adminkey"}, "user": {"key": "userkey"}},
    "glusterfs": {"executor": "mock", "db": "heketi-test.db", "loglevel": "warning"},
}


def _config(**changes: Any) -> dict[str, Any]:
    """BASE with top-level keys replaced; ``glusterfs__x=v`` sets ``glusterfs.x``."""
    config = copy.deepcopy(BASE)
    for key, value in changes.items():
        section, _, name = key.partition("__")
        if name:
            config.setdefault(section, {})[name] = value
        else:
            config[key] = value
    return config


@pytest.fixture
def write_config(tmp_path: Path):
    def write(config: Any) -> str:
        path = tmp_path / "heketi.json"
        path.write_text(config if isinstance(config, str) else json.dumps(config))
        return str(path)

    return write


@pytest.fixture
def load(write_config):
    def load_(config: Any = None, env: dict[str, str] | None = None, **kwargs: Any) -> Settings:
        return load_settings(write_config(BASE if config is None else config), env or {}, **kwargs)

    return load_


def _error(load_callable, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        load_callable(*args, **kwargs)
    text = str(caught.value)
    assert "\n" not in text
    return text


# ---------------------------------------------------------------------------------------------
# Defaults
# ---------------------------------------------------------------------------------------------


def test_minimal_file_gets_heketi_defaults(load) -> None:
    settings = load({"jwt": BASE["jwt"], "glusterfs": {"executor": "mock"}})
    assert settings.port == "8080"
    assert settings.listen == "0.0.0.0"
    assert settings.auth_enabled is True
    assert (settings.admin_key, settings.user_key) == ("adminkey", "userkey")
    assert settings.iat_leeway_s == 120
    assert settings.enable_tls is False and settings.cert_file == "" and settings.key_file == ""
    assert settings.backup_db_to_kube_secret is False
    assert settings.kube_db_secret_name == "heketi-db-backup"
    assert settings.profiling is False
    assert settings.default_state == "normal"

    gfs = settings.glusterfs
    assert gfs.executor == "mock"
    assert gfs.db == "heketi.db"
    assert gfs.db_read_only is False
    assert gfs.loglevel == "info"
    assert gfs.brick_max_size_gb == 4096 and gfs.brick_min_size_gb == 1
    assert gfs.brick_max_size_kib == 4096 * 1024 * 1024
    assert gfs.brick_min_size_kib == 1024 * 1024
    assert gfs.max_bricks_per_volume == 32
    assert gfs.average_file_size_kb == 64
    assert gfs.pre_request_volume_options == "" and gfs.post_request_volume_options == ""
    assert gfs.zone_checking == "none"
    assert gfs.max_volumes_per_cluster == 1000 and gfs.max_volumes_per_cluster_limit == 1000
    assert gfs.auto_create_block_hosting_volume is False
    assert gfs.block_hosting_volume_size == 1024
    assert gfs.block_hosting_volume_options == "group gluster-block"
    assert gfs.disable_monitor_gluster_nodes is False
    assert gfs.refresh_time_monitor_gluster_nodes == 120
    assert gfs.start_time_monitor_gluster_nodes == 10
    assert gfs.max_inflight_operations == 8
    assert gfs.disable_background_cleaner is False
    assert gfs.refresh_time_background_cleaner == 3600
    assert gfs.start_time_background_cleaner == 60
    assert gfs.operation_retry_limits.volume_create == 4
    assert gfs.volume_create_attempts == 5
    assert gfs.mock_device_size_gb == 500
    assert gfs.mock_device_size_kib == 524288000

    for transport in (gfs.sshexec, gfs.kubeexec):
        assert transport.fstab == "/etc/fstab"
        assert transport.mountopts == "rw,inode64,noatime,nouuid"
        assert transport.sudo is False
        assert transport.snapshot_limit == 0
        assert transport.rebalance_on_expansion is True
        assert transport.backup_lvm_metadata is False
        assert transport.gluster_cli_timeout == 600
        assert transport.pv_data_alignment == "256K"
        assert transport.vg_physicalextentsize == "4M"
        assert transport.lv_chunksize == "256K"
        assert (transport.xfs_sw, transport.xfs_su) == (0, 0)
        assert transport.debug_umount_failures is False
        assert transport.block_prealloc == "full"
        assert transport.lvm_wrapper == ""
    assert (gfs.sshexec.keyfile, gfs.sshexec.user, gfs.sshexec.port) == ("", "heketi", "22")
    kube = gfs.kubeexec
    assert kube.namespace == "" and kube.gluster_daemonset is False and kube.use_pod_names is False
    assert kube.max_connections == 64 and kube.max_connections_limit == 64
    assert kube.disable_timeout_prefix is False

    extras = settings.heketipy
    assert extras.listen == "0.0.0.0"
    assert extras.wait_queue_size == 1024
    assert extras.data_dir == "var"
    assert extras.simulator.device_size_gb == 1024
    assert extras.simulator.device_size_kib == 1024 * 1024 * 1024
    latency = extras.simulator.latency_ms
    assert (latency.lvm, latency.fs, latency.gluster) == (5.0, 5.0, 20.0)
    assert extras.simulator.state_file == "heketi.db.simulator.json"


def test_zero_means_default_for_go_zero_valued_tunables(load) -> None:
    zeroed = {
        "brick_max_size_gb": 4096,
        "brick_min_size_gb": 1,
        "max_bricks_per_volume": 32,
        "average_file_size_kb": 64,
        "max_volumes_per_cluster": 1000,
        "block_hosting_volume_size": 1024,
        "refresh_time_monitor_gluster_nodes": 120,
        "start_time_monitor_gluster_nodes": 10,
        "max_inflight_operations": 8,
        "refresh_time_background_cleaner": 3600,
        "start_time_background_cleaner": 60,
    }
    config = _config(**{f"glusterfs__{key}": 0 for key in zeroed})
    config["glusterfs"]["operation_retry_limits"] = {"volume_create": 0}
    config["glusterfs"]["kubeexec"] = {"max_connections": 0, "gluster_cli_timeout": 0}
    gfs = load(config).glusterfs
    for key, default in zeroed.items():
        assert getattr(gfs, key) == default, key
    assert gfs.operation_retry_limits.volume_create == 4
    assert gfs.kubeexec.max_connections == 64
    assert gfs.kubeexec.gluster_cli_timeout == 600


def test_empty_strings_mean_default(load) -> None:
    config = _config(
        glusterfs__db="",
        glusterfs__loglevel="",
        glusterfs__zone_checking="",
        glusterfs__block_hosting_volume_options="",
        glusterfs__sshexec={"user": "", "port": "", "fstab": "", "block_prealloc": ""},
    )
    gfs = load(config).glusterfs
    assert gfs.db == "heketi.db" and gfs.loglevel == "info" and gfs.zone_checking == "none"
    assert gfs.block_hosting_volume_options == "group gluster-block"
    assert (gfs.sshexec.user, gfs.sshexec.port, gfs.sshexec.fstab) == ("heketi", "22", "/etc/fstab")
    assert gfs.sshexec.block_prealloc == "full"


def test_negative_limits_mean_unlimited(load) -> None:
    config = _config(
        glusterfs__max_volumes_per_cluster=-1, glusterfs__kubeexec={"max_connections": -1}
    )
    gfs = load(config).glusterfs
    assert gfs.max_volumes_per_cluster_limit is None
    assert gfs.kubeexec.max_connections_limit is None


def test_every_file_key_is_read(load) -> None:
    config = {
        "port": "9090",
        "jwt": BASE["jwt"],
        "enable_tls": True,
        "cert_file": "/etc/cert.pem",
        "key_file": "/etc/key.pem",
        "backup_db_to_kube_secret": True,
        "profiling": True,
        "default_state": "local-client",
        "glusterfs": {
            "executor": "kube",
            "db": "/var/lib/heketi/heketi.db",
            "db_read_only": True,
            "loglevel": "debug",
            "brick_max_size_gb": 100,
            "brick_min_size_gb": 2,
            "max_bricks_per_volume": 16,
            "average_file_size_kb": 128,
            "pre_request_volume_options": "performance.stat-prefetch off",
            "post_request_volume_options": "server.tcp-user-timeout 42",
            "zone_checking": "strict",
            "max_volumes_per_cluster": 50,
            "auto_create_block_hosting_volume": True,
            "block_hosting_volume_size": 500,
            "block_hosting_volume_options": "group gluster-block,foo bar",
            "disable_monitor_gluster_nodes": True,
            "refresh_time_monitor_gluster_nodes": 30,
            "start_time_monitor_gluster_nodes": 5,
            "max_inflight_operations": 3,
            "disable_background_cleaner": True,
            "refresh_time_background_cleaner": 100,
            "start_time_background_cleaner": 7,
            "operation_retry_limits": {"volume_create": 2},
            "mock_device_size_gb": 10,
            "kubeexec": {
                "namespace": "glusterfs",
                "gluster_daemonset": True,
                "use_pod_names": True,
                "max_connections": 10,
                "disable_timeout_prefix": True,
                "fstab": "/var/lib/heketi/fstab",
                "mountopts": "rw",
                "snapshot_limit": 14,
                "backup_lvm_metadata": True,
                "gluster_cli_timeout": 120,
                "pv_data_alignment": "512K",
                "vg_physicalextentsize": "8m",
                "lv_chunksize": "1M",
                "xfs_sw": 4,
                "xfs_su": 64,
                "debug_umount_failures": True,
                "block_prealloc": "no",
                "lvm_wrapper": "/usr/sbin/exec-on-host",
                "host": "https://legacy:8443",
                "insecure": True,
                "user": "legacy",
                "password": "legacy",
            },
            "sshexec": {"keyfile": "/k", "user": "root", "port": "2222", "sudo": True},
        },
        "heketipy": {
            "listen": "::1",
            "wait_queue_size": 0,
            "data_dir": "/srv/heketipy",
            "simulator": {
                "device_size_gb": 64,
                "latency_ms": {"lvm": 0, "fs": 1.5, "gluster": 0.25},
                "state_file": "/tmp/sim.json",
            },
        },
    }
    settings = load(config)
    assert settings.port == "9090" and settings.listen == "::1"
    assert settings.enable_tls and settings.cert_file == "/etc/cert.pem"
    assert settings.key_file == "/etc/key.pem"
    assert settings.backup_db_to_kube_secret and settings.profiling
    assert settings.default_state == "local-client"
    gfs = settings.glusterfs
    expected = dict(config["glusterfs"])
    expected["executor"] = "kubernetes"
    for key, value in expected.items():
        if not isinstance(value, dict):
            assert getattr(gfs, key) == value, key
    assert gfs.operation_retry_limits.volume_create == 2
    kube = gfs.kubeexec
    for key, value in config["glusterfs"]["kubeexec"].items():
        if key not in ("host", "insecure", "user", "password"):
            assert getattr(kube, key) == value, key
    assert not hasattr(kube, "password")
    assert (gfs.sshexec.keyfile, gfs.sshexec.user, gfs.sshexec.port) == ("/k", "root", "2222")
    assert gfs.sshexec.sudo is True
    extras = settings.heketipy
    assert (extras.listen, extras.wait_queue_size, extras.data_dir) == ("::1", 0, "/srv/heketipy")
    assert extras.simulator.device_size_gb == 64
    assert extras.simulator.latency_ms.fs == 1.5 and extras.simulator.latency_ms.gluster == 0.25
    assert extras.simulator.state_file == "/tmp/sim.json"


def test_file_rebalance_on_expansion_is_ignored(load) -> None:
    config = _config(glusterfs__sshexec={"rebalance_on_expansion": False, "keyfile": "/k"})
    config["glusterfs"]["kubeexec"] = {"Rebalance_On_Expansion": False}
    gfs = load(config).glusterfs
    assert gfs.sshexec.rebalance_on_expansion is True
    assert gfs.kubeexec.rebalance_on_expansion is True


def test_keys_match_case_insensitively_and_null_keeps_default(load) -> None:
    config = {
        "Port": "9000",
        "JWT": {"Admin": {"Key": "A"}, "user": {"KEY": "U"}},
        "GlusterFS": {"Executor": "mock", "MAX_INFLIGHT_OPERATIONS": 2, "db": None},
        "default_state": None,
    }
    settings = load(config)
    assert settings.port == "9000"
    assert (settings.admin_key, settings.user_key) == ("A", "U")
    assert settings.glusterfs.max_inflight_operations == 2
    assert settings.glusterfs.db == "heketi.db"
    assert settings.default_state == "normal"


def test_use_auth_false_disables_auth_as_heketi_9_did(load) -> None:
    # gluster-kubernetes templates: use_auth false with placeholder keys, or none at all.
    assert load(_config(use_auth=False)).auth_enabled is False
    assert load(_config(use_auth=False, jwt={})).auth_enabled is False
    assert load(_config(USE_AUTH=False, jwt={})).auth_enabled is False  # Go matches any case


def test_use_auth_true_or_absent_keeps_auth_on(load) -> None:
    assert load(_config(use_auth=True)).auth_enabled is True
    without = _config()
    del without["use_auth"]
    assert load(without).auth_enabled is True
    with pytest.raises(ConfigError, match="Missing JWT information in config file"):
        load(_config(use_auth=True, jwt={}))
    assert load(_config(use_auth=True), disable_auth=True).auth_enabled is False


def test_use_auth_must_be_a_boolean(load) -> None:
    assert (
        _error(load, _config(use_auth="false"))
        == "invalid configuration: use_auth: must be a boolean (got 'false')"
    )


# ---------------------------------------------------------------------------------------------
# Executors, auth, admin state
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("mock", "mock"),
        ("simulator", "simulator"),
        ("kube", "kubernetes"),
        ("kubernetes", "kubernetes"),
        ("inject/mock", "inject/mock"),
        ("ssh", "ssh"),
        ("", "ssh"),
        ("inject/ssh", "inject/ssh"),
    ],
)
def test_executor_names(load, given: str, expected: str) -> None:
    config = _config(glusterfs__executor=given, glusterfs__sshexec={"keyfile": "/etc/heketi/heketi_key"})
    assert load(config).glusterfs.executor == expected


@pytest.mark.parametrize("bad", ["docker", "SSH", "kubectl", " mock"])
def test_unknown_executor(load, bad: str) -> None:
    text = _error(load, _config(glusterfs__executor=bad))
    assert text == f"invalid configuration: glusterfs.executor: invalid executor: {bad}"


@pytest.mark.parametrize("executor", ["ssh", "", "inject/ssh"])
def test_ssh_needs_keyfile(load, executor: str) -> None:
    config = _config(glusterfs__executor=executor)
    text = _error(load, config)
    assert text == (
        "invalid configuration: glusterfs.sshexec.keyfile: "
        "Missing ssh private key file in configuration"
    )
    with pytest.raises(ConfigError) as caught:
        load(config)
    assert caught.value.message == "Missing ssh private key file in configuration"
    assert caught.value.key == "glusterfs.sshexec.keyfile"


def test_missing_executor_key_means_ssh(load) -> None:
    config = copy.deepcopy(BASE)
    del config["glusterfs"]["executor"]
    assert "Missing ssh private key file" in _error(load, config)
    config["glusterfs"]["sshexec"] = {"keyfile": "/k"}
    assert load(config).glusterfs.executor == "ssh"


def test_keyfile_not_needed_for_other_executors(load) -> None:
    for executor in ("mock", "kubernetes", "simulator", "inject/mock"):
        assert load(_config(glusterfs__executor=executor)).glusterfs.sshexec.keyfile == ""


@pytest.mark.parametrize(
    "jwt",
    [
        {},
        {"admin": {"key": "a"}},
        {"user": {"key": "u"}},
        {"admin": {"key": ""}, "user": {"key": "u"}},
        {"admin": {}, "user": {}},
    ],
)
def test_auth_needs_both_keys(load, jwt: dict[str, Any]) -> None:
    config = _config(jwt=jwt)
    assert (
        _error(load, config) == "invalid configuration: jwt: Missing JWT information in config file"
    )
    with pytest.raises(ConfigError) as caught:
        load(config)
    assert caught.value.message == "Missing JWT information in config file"
    settings = load(config, disable_auth=True)
    assert settings.auth_enabled is False


def test_env_keys_complete_the_jwt_section(load) -> None:
    settings = load(_config(jwt={}), {"HEKETI_ADMIN_KEY": "envadmin", "HEKETI_USER_KEY": "envuser"})
    assert (settings.admin_key, settings.user_key) == ("envadmin", "envuser")
    settings = load(None, {"HEKETI_ADMIN_KEY": "override"})
    assert (settings.admin_key, settings.user_key) == ("override", "userkey")


@pytest.mark.parametrize("state", ["normal", "read-only", "local-client"])
def test_admin_states(load, state: str) -> None:
    assert load(_config(default_state=state)).default_state == state
    assert load(None, {"HEKETI_DEFAULT_STATE": state}).default_state == state


def test_unknown_admin_state(load) -> None:
    text = _error(load, _config(default_state="maintenance"))
    assert text == "invalid configuration: default_state: unknown admin state name: maintenance"
    text = _error(load, None, {"HEKETI_DEFAULT_STATE": "Read-Only"})
    assert text == (
        "invalid configuration: default_state: unknown admin state name: Read-Only"
        " (from HEKETI_DEFAULT_STATE)"
    )


def test_tls_needs_cert_and_key(load) -> None:
    text = _error(load, _config(enable_tls=True, key_file="/k"))
    assert text.startswith("invalid configuration: cert_file:")
    text = _error(load, _config(enable_tls=True, cert_file="/c"))
    assert text.startswith("invalid configuration: key_file:")


# ---------------------------------------------------------------------------------------------
# Environment overrides
# ---------------------------------------------------------------------------------------------


def test_string_overrides_non_empty_wins(load) -> None:
    env = {
        "HEKETI_HTTP_PORT": "9999",
        "HEKETI_EXECUTOR": "kube",
        "HEKETI_DB_PATH": "/var/lib/heketi/heketi.db",
        "HEKETI_GLUSTERAPP_LOGLEVEL": "debug",
        "HEKETI_BLOCK_HOSTING_VOLUME_OPTIONS": "group foo",
        "HEKETI_PRE_REQUEST_VOLUME_OPTIONS": "a b",
        "HEKETI_POST_REQUEST_VOLUME_OPTIONS": "c d",
        "HEKETI_ZONE_CHECKING": "strict",
        "HEKETI_KUBE_DB_SECRET_NAME": "my-backup",
        "HEKETI_SSH_KEYFILE": "/key",
        "HEKETI_SSH_USER": "admin",
        "HEKETI_SSH_PORT": "2022",
        "HEKETI_FSTAB": "/var/lib/heketi/fstab",
        "HEKETI_MOUNT_OPTS": "rw,noatime",
        "HEKETI_KUBE_NAMESPACE": "storage",
        "HEKETI_BLOCK_VOLUME_DEFAULT_PREALLOC": "no",
        "HEKETI_LVM_WRAPPER": "/usr/bin/wrap",
    }
    settings = load(None, env)
    gfs = settings.glusterfs
    assert settings.port == "9999"
    assert gfs.executor == "kubernetes"
    assert gfs.db == "/var/lib/heketi/heketi.db"
    assert gfs.loglevel == "debug"
    assert gfs.block_hosting_volume_options == "group foo"
    assert (gfs.pre_request_volume_options, gfs.post_request_volume_options) == ("a b", "c d")
    assert gfs.zone_checking == "strict"
    assert settings.kube_db_secret_name == "my-backup"
    assert (gfs.sshexec.keyfile, gfs.sshexec.user, gfs.sshexec.port) == ("/key", "admin", "2022")
    assert gfs.kubeexec.namespace == "storage"
    for transport in (gfs.sshexec, gfs.kubeexec):
        assert transport.fstab == "/var/lib/heketi/fstab"
        assert transport.mountopts == "rw,noatime"
        assert transport.block_prealloc == "no"
        assert transport.lvm_wrapper == "/usr/bin/wrap"
    assert settings.heketipy.simulator.state_file == "/var/lib/heketi/heketi.db.simulator.json"


def test_empty_env_values_do_not_override(load) -> None:
    env = {
        "HEKETI_HTTP_PORT": "",
        "HEKETI_EXECUTOR": "",
        "HEKETI_ADMIN_KEY": "",
        "HEKETI_MAX_INFLIGHT_OPERATIONS": "",
        "HEKETI_PROFILING": "",
        "HEKETI_AUTO_CREATE_BLOCK_HOSTING_VOLUME": "",
    }
    settings = load(None, env)
    assert settings.port == "18181" and settings.glusterfs.executor == "mock"
    assert settings.admin_key == "adminkey"
    assert settings.glusterfs.max_inflight_operations == 8
    assert settings.profiling is False
    assert settings.glusterfs.auto_create_block_hosting_volume is False


def test_int_overrides(load) -> None:
    env = {
        "HEKETI_BLOCK_HOSTING_VOLUME_SIZE": "20",
        "HEKETI_MAX_INFLIGHT_OPERATIONS": "+3",
        "HEKETI_GLUSTER_MAX_VOLUMES_PER_CLUSTER": "-1",
        "HEKETI_JWT_IAT_LEEWAY_SECONDS": "30",
        "HEKETI_MOCK_DEVICE_SIZE_GB": "10",
        "HEKETI_SNAPSHOT_LIMIT": "14",
        "HEKETI_GLUSTER_CLI_TIMEOUT": "900",
        "HEKETI_WAIT_QUEUE_SIZE": "7",
    }
    settings = load(None, env)
    gfs = settings.glusterfs
    assert gfs.block_hosting_volume_size == 20
    assert gfs.max_inflight_operations == 3
    assert gfs.max_volumes_per_cluster_limit is None
    assert settings.iat_leeway_s == 30
    assert gfs.mock_device_size_gb == 10 and gfs.mock_device_size_kib == 10 * 1024 * 1024
    for transport in (gfs.sshexec, gfs.kubeexec):
        assert transport.snapshot_limit == 14 and transport.gluster_cli_timeout == 900
    assert settings.heketipy.wait_queue_size == 7


def test_env_zero_means_default_too(load) -> None:
    settings = load(None, {"HEKETI_MAX_INFLIGHT_OPERATIONS": "0"})
    assert settings.glusterfs.max_inflight_operations == 8


@pytest.mark.parametrize(
    ("variable", "key"),
    [
        ("HEKETI_MAX_INFLIGHT_OPERATIONS", "glusterfs.max_inflight_operations"),
        ("HEKETI_BLOCK_HOSTING_VOLUME_SIZE", "glusterfs.block_hosting_volume_size"),
        ("HEKETI_GLUSTER_MAX_VOLUMES_PER_CLUSTER", "glusterfs.max_volumes_per_cluster"),
        ("HEKETI_MOCK_DEVICE_SIZE_GB", "glusterfs.mock_device_size_gb"),
        ("HEKETI_SNAPSHOT_LIMIT", "glusterfs.sshexec.snapshot_limit"),
        ("HEKETI_GLUSTER_CLI_TIMEOUT", "glusterfs.sshexec.gluster_cli_timeout"),
        ("HEKETI_WAIT_QUEUE_SIZE", "heketipy.wait_queue_size"),
        ("HEKETI_JWT_IAT_LEEWAY_SECONDS", "HEKETI_JWT_IAT_LEEWAY_SECONDS"),
    ],
)
@pytest.mark.parametrize("bad", ["x", "1.5", " 3", "1_000", "٣"])
def test_bad_int_env(load, variable: str, key: str, bad: str) -> None:
    text = _error(load, None, {variable: bad})
    assert text.startswith(f"invalid configuration: {key}: must be an integer (got {bad!r})")
    if key != variable:
        assert text.endswith(f"(from {variable})")


@pytest.mark.parametrize(
    ("variable", "key"),
    [
        ("HEKETI_MAX_INFLIGHT_OPERATIONS", "glusterfs.max_inflight_operations"),
        ("HEKETI_MOCK_DEVICE_SIZE_GB", "glusterfs.mock_device_size_gb"),
        ("HEKETI_WAIT_QUEUE_SIZE", "heketipy.wait_queue_size"),
        ("HEKETI_JWT_IAT_LEEWAY_SECONDS", "HEKETI_JWT_IAT_LEEWAY_SECONDS"),
    ],
)
def test_out_of_range_int_env(load, variable: str, key: str) -> None:
    text = _error(load, None, {variable: "-1"})
    assert text.startswith(f"invalid configuration: {key}: must be >= ")


@pytest.mark.parametrize("value", ["1", "t", "T", "TRUE", "true", "True"])
def test_go_bool_true(load, value: str) -> None:
    env = {
        "HEKETI_AUTO_CREATE_BLOCK_HOSTING_VOLUME": value,
        "HEKETI_DEBUG_UMOUNT_FAILURES": value,
    }
    gfs = load(None, env).glusterfs
    assert gfs.auto_create_block_hosting_volume is True
    assert gfs.sshexec.debug_umount_failures and gfs.kubeexec.debug_umount_failures


@pytest.mark.parametrize("value", ["0", "f", "F", "FALSE", "false", "False"])
def test_go_bool_false(load, value: str) -> None:
    config = _config(glusterfs__auto_create_block_hosting_volume=True)
    env = {
        "HEKETI_AUTO_CREATE_BLOCK_HOSTING_VOLUME": value,
        "HEKETI_GLUSTERAPP_REBALANCE_ON_EXPANSION": value,
    }
    gfs = load(config, env).glusterfs
    assert gfs.auto_create_block_hosting_volume is False
    assert gfs.sshexec.rebalance_on_expansion is False
    assert gfs.kubeexec.rebalance_on_expansion is False


@pytest.mark.parametrize(
    ("variable", "key"),
    [
        ("HEKETI_AUTO_CREATE_BLOCK_HOSTING_VOLUME", "glusterfs.auto_create_block_hosting_volume"),
        ("HEKETI_GLUSTERAPP_REBALANCE_ON_EXPANSION", "glusterfs.sshexec.rebalance_on_expansion"),
        ("HEKETI_DEBUG_UMOUNT_FAILURES", "glusterfs.sshexec.debug_umount_failures"),
    ],
)
@pytest.mark.parametrize("bad", ["yes", "on", "tRUE", "2"])
def test_bad_go_bool_env(load, variable: str, key: str, bad: str) -> None:
    text = _error(load, None, {variable: bad})
    assert text.startswith(f"invalid configuration: {key}: must be a boolean")
    assert repr(bad) in text and text.endswith(f"(from {variable})")


@pytest.mark.parametrize("value", ["1", "true", "false", "no", "0", "x"])
def test_any_value_means_true(load, value: str) -> None:
    settings = load(None, {"HEKETI_PROFILING": value, "HEKETI_BACKUP_DB_TO_KUBE_SECRET": value})
    assert settings.profiling is True and settings.backup_db_to_kube_secret is True


def test_exactly_true_switches(load) -> None:
    env = {"HEKETI_DISABLE_HEALTH_MONITOR": "true", "HEKETI_DISABLE_BACKGROUND_CLEANER": "true"}
    gfs = load(None, env).glusterfs
    assert gfs.disable_monitor_gluster_nodes and gfs.disable_background_cleaner


@pytest.mark.parametrize("value", ["True", "1", "TRUE", "yes", "false", "t"])
def test_exactly_true_switches_ignore_other_values(load, value: str) -> None:
    env = {"HEKETI_DISABLE_HEALTH_MONITOR": value, "HEKETI_DISABLE_BACKGROUND_CLEANER": value}
    gfs = load(None, env).glusterfs
    assert not gfs.disable_monitor_gluster_nodes and not gfs.disable_background_cleaner
    # A non-"true" value does not switch off what the file switched on.
    config = _config(
        glusterfs__disable_monitor_gluster_nodes=True, glusterfs__disable_background_cleaner=True
    )
    gfs = load(config, env).glusterfs
    assert gfs.disable_monitor_gluster_nodes and gfs.disable_background_cleaner


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("y", True),
        ("yes", True),
        ("Y", True),
        ("1", True),
        ("n", False),
        ("no", False),
        ("0", False),
    ],
)
def test_kube_first_character_switches(load, value: str, expected: bool) -> None:
    config = _config(
        glusterfs__kubeexec={"gluster_daemonset": not expected, "use_pod_names": not expected}
    )
    env = {"HEKETI_KUBE_GLUSTER_DAEMONSET": value, "HEKETI_KUBE_USE_POD_NAMES": value}
    kube = load(config, env).glusterfs.kubeexec
    assert kube.gluster_daemonset is expected and kube.use_pod_names is expected


def test_bad_kube_switch(load) -> None:
    text = _error(load, None, {"HEKETI_KUBE_USE_POD_NAMES": "true"})
    assert text.startswith("invalid configuration: glusterfs.kubeexec.use_pod_names:")
    assert text.endswith("(from HEKETI_KUBE_USE_POD_NAMES)")


def test_env_values_are_validated_like_file_values(load) -> None:
    text = _error(load, None, {"HEKETI_EXECUTOR": "docker"})
    assert text == (
        "invalid configuration: glusterfs.executor: invalid executor: docker (from HEKETI_EXECUTOR)"
    )
    text = _error(load, None, {"HEKETI_HTTP_PORT": "http"})
    assert text.startswith("invalid configuration: port: must be a TCP port")
    assert text.endswith("(from HEKETI_HTTP_PORT)")
    text = _error(load, None, {"HEKETI_ZONE_CHECKING": "loose"})
    assert text.startswith("invalid configuration: glusterfs.zone_checking:")
    text = _error(load, None, {"HEKETI_GLUSTERAPP_LOGLEVEL": "trace"})
    assert text.startswith("invalid configuration: glusterfs.loglevel:")
    text = _error(load, None, {"HEKETI_SSH_PORT": "0", "HEKETI_EXECUTOR": "mock"})
    assert text.startswith("invalid configuration: glusterfs.sshexec.port:")
    text = _error(load, None, {"HEKETI_BLOCK_VOLUME_DEFAULT_PREALLOC": "full; reboot"})
    assert text.startswith("invalid configuration: glusterfs.sshexec.block_prealloc:")


def test_env_executor_ssh_then_needs_a_keyfile(load) -> None:
    assert "Missing ssh private key file" in _error(load, None, {"HEKETI_EXECUTOR": "ssh"})
    env = {"HEKETI_EXECUTOR": "ssh", "HEKETI_SSH_KEYFILE": "/key"}
    assert load(None, env).glusterfs.executor == "ssh"


def test_env_reaches_missing_sections(load) -> None:
    config = {"jwt": BASE["jwt"], "glusterfs": {}}
    env = {"HEKETI_EXECUTOR": "mock", "HEKETI_KUBE_NAMESPACE": "ns", "HEKETI_WAIT_QUEUE_SIZE": "3"}
    settings = load(config, env)
    assert settings.glusterfs.kubeexec.namespace == "ns"
    assert settings.heketipy.wait_queue_size == 3


def test_arguments_win_over_env_and_file(load) -> None:
    config = _config(heketipy={"listen": "10.0.0.1"})
    settings = load(config, {"HEKETI_HTTP_PORT": "7000"}, listen="127.0.0.1", port="0")
    assert settings.port == "0"
    assert settings.listen == "127.0.0.1" and settings.heketipy.listen == "127.0.0.1"
    assert load(config).listen == "10.0.0.1"


def test_default_env_is_os_environ(write_config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEKETI_MAX_INFLIGHT_OPERATIONS", "5")
    assert load_settings(write_config(BASE)).glusterfs.max_inflight_operations == 5


# ---------------------------------------------------------------------------------------------
# Bad file values
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (_config(port=8080), "invalid configuration: port: must be a string (got 8080)"),
        (
            _config(port="80a"),
            "invalid configuration: port: must be a TCP port number 0-65535 (got '80a')",
        ),
        (
            _config(port="70000"),
            "invalid configuration: port: must be a TCP port number 0-65535 (got '70000')",
        ),
        (
            _config(glusterfs__max_inflight_operations="x"),
            "invalid configuration: glusterfs.max_inflight_operations: must be an integer (got 'x')",
        ),
        (
            _config(glusterfs__max_inflight_operations=2.5),
            "invalid configuration: glusterfs.max_inflight_operations: must be an integer (got 2.5)",
        ),
        (
            _config(glusterfs__max_inflight_operations=-2),
            "invalid configuration: glusterfs.max_inflight_operations: must be >= 0 (got -2)",
        ),
        (
            _config(glusterfs__brick_max_size_gb=True),
            "invalid configuration: glusterfs.brick_max_size_gb: must be an integer (got true)",
        ),
        (
            _config(glusterfs__db_read_only="yes"),
            "invalid configuration: glusterfs.db_read_only: must be a boolean (got 'yes')",
        ),
        (
            _config(glusterfs__db_read_only=1),
            "invalid configuration: glusterfs.db_read_only: must be a boolean (got 1)",
        ),
        (
            _config(glusterfs__db=5),
            "invalid configuration: glusterfs.db: must be a string (got 5)",
        ),
        (
            _config(glusterfs__operation_retry_limits={"volume_create": "4"}),
            "invalid configuration: glusterfs.operation_retry_limits.volume_create: "
            "must be an integer (got '4')",
        ),
        (
            _config(glusterfs__operation_retry_limits=4),
            "invalid configuration: glusterfs.operation_retry_limits: must be an object (got 4)",
        ),
        (
            _config(glusterfs__sshexec={"port": 22}),
            "invalid configuration: glusterfs.sshexec.port: must be a string (got 22)",
        ),
        (
            _config(glusterfs__kubeexec={"use_pod_names": "y"}),
            "invalid configuration: glusterfs.kubeexec.use_pod_names: must be a boolean (got 'y')",
        ),
        (
            _config(glusterfs__kubeexec={"xfs_sw": -1}),
            "invalid configuration: glusterfs.kubeexec.xfs_sw: must be >= 0 (got -1)",
        ),
        (
            _config(glusterfs__kubeexec={"lv_chunksize": "256K; rm -rf /"}),
            "invalid configuration: glusterfs.kubeexec.lv_chunksize: "
            "must be an LVM size like 256K (got '256K; rm -rf /')",
        ),
        (
            _config(glusterfs__mock_device_size_gb=0),
            "invalid configuration: glusterfs.mock_device_size_gb: must be >= 1 (got 0)",
        ),
        (
            _config(glusterfs=[]),
            "invalid configuration: glusterfs: must be an object (got an array)",
        ),
        (
            _config(jwt={"admin": "adminkey", "user": {"key": "u"}}),
            "invalid configuration: jwt.admin: must be an object (got 'adminkey')",
        ),
        (
            _config(jwt={"admin": {"key": 1}, "user": {"key": "u"}}),
            "invalid configuration: jwt.admin.key: must be a string (got 1)",
        ),
        (
            _config(enable_tls="true"),
            "invalid configuration: enable_tls: must be a boolean (got 'true')",
        ),
        (
            _config(heketipy={"wait_queue_size": -1}),
            "invalid configuration: heketipy.wait_queue_size: must be >= 0 (got -1)",
        ),
        (
            _config(heketipy={"simulator": {"device_size_gb": 0}}),
            "invalid configuration: heketipy.simulator.device_size_gb: must be >= 1 (got 0)",
        ),
        (
            _config(heketipy={"simulator": {"latency_ms": {"gluster": -0.5}}}),
            "invalid configuration: heketipy.simulator.latency_ms.gluster: must be >= 0.0 (got -0.5)",
        ),
        (
            _config(heketipy={"simulator": {"latency_ms": {"fs": "5"}}}),
            "invalid configuration: heketipy.simulator.latency_ms.fs: must be a number (got '5')",
        ),
        (
            _config(heketipy={"listen": 0}),
            "invalid configuration: heketipy.listen: must be a string (got 0)",
        ),
    ],
)
def test_bad_file_values_name_the_key(load, config: dict[str, Any], expected: str) -> None:
    assert _error(load, config) == expected


def test_bad_enumerations(load) -> None:
    assert _error(load, _config(glusterfs__zone_checking="loose")).startswith(
        "invalid configuration: glusterfs.zone_checking: unknown zone checking mode 'loose'"
    )
    assert _error(load, _config(glusterfs__loglevel="WARNING")).startswith(
        "invalid configuration: glusterfs.loglevel: unknown log level 'WARNING'"
    )


def test_log_format_is_text_by_default_json_on_request_and_nothing_else(load) -> None:
    assert load().heketipy.log_format == "text"
    assert load(_config(heketipy={"log_format": ""})).heketipy.log_format == "text"
    assert load(_config(heketipy={"log_format": "json"})).heketipy.log_format == "json"
    assert _error(load, _config(heketipy={"log_format": "logfmt"})).startswith(
        "invalid configuration: heketipy.log_format: unknown log format 'logfmt'"
    )


def test_config_error_attributes(load) -> None:
    with pytest.raises(ConfigError) as caught:
        load(_config(glusterfs__max_inflight_operations="x"))
    error = caught.value
    assert error.key == "glusterfs.max_inflight_operations"
    assert error.message == "must be an integer (got 'x')"
    assert error.source is None


def test_missing_glusterfs_object(load) -> None:
    for config in ({"jwt": BASE["jwt"]}, {"jwt": BASE["jwt"], "glusterfs": None}):
        assert (
            _error(load, config) == "invalid configuration: glusterfs: required object is missing"
        )


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"
    text = _error(load_settings, str(path), {})
    assert text.startswith(f"Unable to open config file {path}: ")


@pytest.mark.parametrize(
    "content", ["", "{", "{'port': '1'}", '{"port": NaN}', "[]", '"x"', "{} {}"]
)
def test_unparseable_file(write_config, content: str) -> None:
    path = write_config(content)
    assert _error(load_settings, path, {}).startswith(f"Unable to parse config file {path}: ")


def test_models_are_frozen(load) -> None:
    settings = load()
    with pytest.raises(ValidationError):
        settings.port = "1"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        settings.glusterfs.max_inflight_operations = 1  # type: ignore[misc]


def test_models_can_be_built_directly() -> None:
    settings = Settings(auth_enabled=False)
    assert settings.glusterfs.executor == "mock" and settings.default_state == "normal"
    assert Settings(admin_key="a", user_key="b").auth_enabled is True
    assert GlusterfsSettings(executor="kube").executor == "kubernetes"
    assert SshExecSettings(keyfile="/k").port == "22"
    assert KubeExecSettings(max_connections=0).max_connections == 64
    with pytest.raises(ValidationError, match="Missing JWT information"):
        Settings()
    with pytest.raises(ValidationError, match="Missing ssh private key file"):
        GlusterfsSettings()


# ---------------------------------------------------------------------------------------------
# Golden configurations
# ---------------------------------------------------------------------------------------------

GOLDEN_FILES = sorted(GOLDEN_HTTP.glob("*.json"))


@pytest.mark.parametrize("golden", GOLDEN_FILES, ids=lambda path: path.stem)
def test_golden_configs_load(write_config, tmp_path: Path, golden: Path) -> None:
    server = json.loads(golden.read_text())["server"]
    config = copy.deepcopy(server["config"])
    config["glusterfs"]["db"] = str(tmp_path / "heketi.db")
    settings = load_settings(
        write_config(config), server["env"], disable_auth="--disable-auth" in server["args"]
    )
    gfs = settings.glusterfs
    assert settings.port == config["port"]
    assert settings.auth_enabled is ("--disable-auth" not in server["args"])
    assert (settings.admin_key, settings.user_key) == ("adminkey", "userkey")
    assert gfs.executor == "mock" and gfs.loglevel == "warning"
    assert gfs.db == str(tmp_path / "heketi.db")
    assert gfs.mock_device_size_kib == 524288000
    assert settings.default_state == server["env"].get("HEKETI_DEFAULT_STATE", "normal")
    for key, value in config["glusterfs"].items():
        assert getattr(gfs, key) == value, key


def test_golden_specific_values() -> None:
    assert GOLDEN_FILES, f"no golden fixtures under {GOLDEN_HTTP}"
    by_name = {path.stem: json.loads(path.read_text())["server"] for path in GOLDEN_FILES}
    assert by_name["throttle"]["config"]["glusterfs"]["max_inflight_operations"] == 1
    assert by_name["admin-default-state"]["env"]["HEKETI_DEFAULT_STATE"] == "read-only"


# ---------------------------------------------------------------------------------------------
# Embedded defaults (`make run`)
# ---------------------------------------------------------------------------------------------


def test_embedded_defaults(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = load_settings(None, {}, data_dir=str(data_dir))
    assert settings.config_path is None
    assert settings.glusterfs.executor == "simulator"
    assert settings.glusterfs.db == str(data_dir / "heketi.db")
    assert settings.listen == "127.0.0.1"
    assert settings.port == "8080"
    assert settings.auth_enabled is True
    assert settings.heketipy.data_dir == str(data_dir)
    assert settings.heketipy.simulator.state_file == str(data_dir / "heketi.db.simulator.json")

    secrets_file = data_dir / "secrets.json"
    stored = json.loads(secrets_file.read_text())
    assert (settings.admin_key, settings.user_key) == (stored["admin_key"], stored["user_key"])
    assert len(settings.admin_key) >= 32 and settings.admin_key != settings.user_key
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert [p.name for p in data_dir.iterdir()] == ["secrets.json"]


def test_embedded_secrets_are_stable_across_restarts(tmp_path: Path) -> None:
    first = load_settings(None, {}, data_dir=str(tmp_path))
    second = load_settings(None, {}, data_dir=str(tmp_path))
    assert (first.admin_key, first.user_key) == (second.admin_key, second.user_key)
    other = load_settings(None, {}, data_dir=str(tmp_path / "elsewhere"))
    assert other.admin_key != first.admin_key


def test_embedded_env_secrets_win_and_skip_the_file(tmp_path: Path) -> None:
    env = {"HEKETI_ADMIN_KEY": "a", "HEKETI_USER_KEY": "u"}
    settings = load_settings(None, env, data_dir=str(tmp_path))
    assert (settings.admin_key, settings.user_key) == ("a", "u")
    assert not (tmp_path / "secrets.json").exists()


def test_embedded_one_env_secret_completed_from_file(tmp_path: Path) -> None:
    settings = load_settings(None, {"HEKETI_ADMIN_KEY": "a"}, data_dir=str(tmp_path))
    stored = json.loads((tmp_path / "secrets.json").read_text())
    assert (settings.admin_key, settings.user_key) == ("a", stored["user_key"])


def test_embedded_without_auth_creates_no_secrets(tmp_path: Path) -> None:
    settings = load_settings(None, {}, data_dir=str(tmp_path), disable_auth=True)
    assert settings.auth_enabled is False
    assert not (tmp_path / "secrets.json").exists()


def test_embedded_env_overrides_apply(tmp_path: Path) -> None:
    env = {"HEKETI_EXECUTOR": "mock", "HEKETI_DB_PATH": str(tmp_path / "x.db")}
    settings = load_settings(None, env, data_dir=str(tmp_path), listen="0.0.0.0", port="9000")
    assert settings.glusterfs.executor == "mock"
    assert settings.glusterfs.db == str(tmp_path / "x.db")
    assert (settings.listen, settings.port) == ("0.0.0.0", "9000")


def test_embedded_default_data_dir_is_var_in_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None, {})
    assert settings.heketipy.data_dir == "var"
    assert settings.glusterfs.db == "var/heketi.db"
    assert (tmp_path / "var" / "secrets.json").exists()


@pytest.mark.parametrize(
    "content", ["not json", "[]", '{"admin_key": "a"}', '{"admin_key": "", "user_key": "u"}']
)
def test_embedded_corrupt_secrets_file(tmp_path: Path, content: str) -> None:
    (tmp_path / "secrets.json").write_text(content)
    text = _error(load_settings, None, {}, data_dir=str(tmp_path))
    assert text.startswith("invalid configuration: heketipy.data_dir: secrets file ")


def test_data_dir_argument_with_a_file(load, tmp_path: Path) -> None:
    settings = load(None, data_dir=str(tmp_path / "d"))
    assert settings.heketipy.data_dir == str(tmp_path / "d")


# ---------------------------------------------------------------------------------------------
# heketipy.queue_result_ttl_s
# ---------------------------------------------------------------------------------------------


def test_queue_result_ttl_defaults_to_five_minutes(load) -> None:
    assert load().heketipy.queue_result_ttl_s == 300


@pytest.mark.parametrize("value", [30, 0.5])
def test_queue_result_ttl_is_read_from_the_file(load, value: float) -> None:
    assert load(_config(heketipy={"queue_result_ttl_s": value})).heketipy.queue_result_ttl_s == value


@pytest.mark.parametrize(
    ("value", "problem"),
    [(0, "must be > 0.0 (got 0)"), (-5, "must be > 0.0 (got -5)"), ("60", "must be a number")],
)
def test_queue_result_ttl_must_be_a_positive_number(load, value: Any, problem: str) -> None:
    text = _error(load, _config(heketipy={"queue_result_ttl_s": value}))
    assert text.startswith(f"invalid configuration: heketipy.queue_result_ttl_s: {problem}"), text


def test_log_level_names_are_the_loggers_levels() -> None:
    """The level names the config and POST /internal/logging accept are exactly the ones the
    logging setup maps, in the same order (quietest first)."""
    from heketipy import logctx
    from heketipy.config import DEFAULT_LOG_LEVEL, LOG_LEVELS

    assert tuple(logctx.LEVELS) == LOG_LEVELS
    assert DEFAULT_LOG_LEVEL in LOG_LEVELS
