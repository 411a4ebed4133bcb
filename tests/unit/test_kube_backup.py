"""Database backup into Kubernetes Secrets against the fake API server's Secrets: a small
database in Heketi's single Secret, a database far over 1 MiB split over several Secrets,
restore at start-up when the file is missing, checksums refusing a corrupt or mixed set,
shrinking, the request hook's rules, and failures that are only logged."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from heketipy.config import GlusterfsSettings, KubeExecSettings, Settings
from heketipy.domain.entities import Cluster, Node
from heketipy.domain.state import State, Transaction
from heketipy.store import kube_backup as kb
from heketipy.store.sqlite import Store
from tests.testbed.fake_secrets import MAX_SECRET_BYTES, FakeSecrets, create_app

NS = "storage"
NAME = "heketi-db-backup"


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeSecrets, str]]:
    secrets = FakeSecrets(token="t0ken")
    server = TestServer(create_app(secrets), host="127.0.0.1")
    await server.start_server()
    try:
        yield secrets, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


@pytest.fixture
async def backup(fake: tuple[FakeSecrets, str]) -> AsyncIterator[kb.KubeDbBackup]:
    _secrets, url = fake
    api = kb.KubeApi(url, NS, token="t0ken")
    job = kb.KubeDbBackup(api, NAME)
    try:
        yield job
    finally:
        await job.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[tuple[Store, State]]:
    db = Store(str(tmp_path / "heketi.db"))
    state = await db.open()
    try:
        yield db, state
    finally:
        await db.close()


def node_id_of(label: str) -> str:
    return label.encode().hex().ljust(32, "0")[:32]


async def add_node(db: Store, state: State, label: str, payload_bytes: int = 0) -> None:
    """A node; ``payload_bytes`` of incompressible tag data make the database big."""
    tx = Transaction(state)
    if not state.clusters:
        tx.add(Cluster(id="c" * 32, file=True, block=True))
    tags = {"blob": base64.b64encode(os.urandom(payload_bytes)).decode()} if payload_bytes else {}
    tx.add(Node(id=node_id_of(label), cluster_id="c" * 32, zone=1, manage=[label], storage=[label], tags=tags))
    await db.commit(tx)


async def load(path: Path) -> State:
    db = Store(str(path))
    try:
        return await db.open()
    finally:
        await db.close()


async def test_small_database_uses_heketis_single_secret(
    fake: tuple[FakeSecrets, str], backup: kb.KubeDbBackup, store: tuple[Store, State],
    tmp_path: Path,
) -> None:
    secrets, _url = fake
    db, state = store
    await add_node(db, state, "node1.example.test")
    assert await backup.backup_store(db) is True
    data = secrets.data(NS, NAME)
    assert data is not None and set(data) == {kb.SINGLE_KEY, kb.MANIFEST_KEY}
    assert secrets.secrets[(NS, NAME)]["metadata"]["labels"] == kb.LABELS
    assert secrets.data(NS, f"{NAME}-1") is None

    target = tmp_path / "restored" / "heketi.db"
    target.parent.mkdir()
    # The lost database's write-ahead log must not be replayed onto the restored one.
    (tmp_path / "restored" / "heketi.db-wal").write_bytes(b"stale wal of the lost database")
    assert await kb.restore_if_missing(str(target), backup) is True
    assert not (tmp_path / "restored" / "heketi.db-wal").exists()
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    restored = await load(target)
    assert sorted(restored.nodes) == sorted(state.nodes)
    assert restored.attributes["DB_GENERATION_ID"] == state.attributes["DB_GENERATION_ID"]


async def test_database_over_one_mib_is_split_and_restored(
    fake: tuple[FakeSecrets, str], backup: kb.KubeDbBackup, store: tuple[Store, State],
    tmp_path: Path,
) -> None:
    secrets, _url = fake
    db, state = store
    await add_node(db, state, "big.example.test", payload_bytes=2 * 1024 * 1024)
    raw = await db.backup_bytes()
    assert len(raw) > 2 * 1024 * 1024
    assert await backup.backup_store(db) is True

    manifest = kb.manifest_of(secrets.data(NS, NAME) or {})
    assert manifest is not None and len(manifest["parts"]) >= 3
    assert [p["secret"] for p in manifest["parts"]] == [
        NAME, *(f"{NAME}-{i}" for i in range(1, len(manifest["parts"])))
    ]
    for part in manifest["parts"]:
        data = secrets.data(NS, part["secret"]) or {}
        assert sum(len(v) for v in data.values()) <= MAX_SECRET_BYTES
        assert set(data) - {kb.MANIFEST_KEY} == {kb.PART_KEY}
    # The manifest Secret is written last, after every part.
    assert secrets.writes()[-1] == ("POST", NAME)

    target = tmp_path / "restored" / "heketi.db"
    assert await kb.restore_if_missing(str(target), backup) is True
    assert target.read_bytes() == raw
    restored = await load(target)
    assert len(restored.nodes[node_id_of("big.example.test")].tags["blob"]) > 2**21


async def test_unchanged_database_is_not_uploaded_again(
    fake: tuple[FakeSecrets, str], backup: kb.KubeDbBackup, store: tuple[Store, State],
) -> None:
    secrets, url = fake
    db, state = store
    await add_node(db, state, "node1.example.test")
    assert await backup.backup_store(db) is True
    writes = len(secrets.writes())
    assert await backup.backup_store(db) is False
    # A new process (fresh backup object) learns from the manifest that nothing changed.
    other = kb.KubeDbBackup(kb.KubeApi(url, NS, token="t0ken"), NAME)
    try:
        assert await other.backup_store(db) is False
    finally:
        await other.close()
    assert len(secrets.writes()) == writes
    await add_node(db, state, "node2.example.test")
    assert await backup.backup_store(db) is True
    assert secrets.writes()[-1] == ("PUT", NAME)  # create, then update when it exists


async def test_shrinking_empties_parts_no_longer_needed(
    fake: tuple[FakeSecrets, str], backup: kb.KubeDbBackup, tmp_path: Path,
) -> None:
    secrets, _url = fake
    assert len(kb.pack(b"x", NAME).manifest["parts"]) == 1
    random_db = kb.SQLITE_MAGIC + os.urandom(2 * 1024 * 1024)
    assert await backup.backup(random_db)
    parts_before = len(kb.manifest_of(secrets.data(NS, NAME) or {})["parts"])
    assert parts_before >= 3
    assert await backup.backup(kb.SQLITE_MAGIC + b"small")
    manifest = kb.manifest_of(secrets.data(NS, NAME) or {})
    assert len(manifest["parts"]) == 1
    for index in range(1, parts_before):
        assert secrets.data(NS, f"{NAME}-{index}") == {}
    assert await backup.fetch() == kb.SQLITE_MAGIC + b"small"


@pytest.mark.parametrize("damage", ["corrupt-part", "missing-part", "mixed-generation"])
async def test_damaged_backup_is_refused(
    fake: tuple[FakeSecrets, str], backup: kb.KubeDbBackup, tmp_path: Path, damage: str,
) -> None:
    secrets, _url = fake
    first = kb.SQLITE_MAGIC + os.urandom(2 * 1024 * 1024)
    assert await backup.backup(first)
    part = secrets.secrets[(NS, f"{NAME}-1")]
    if damage == "corrupt-part":
        chunk = bytearray(base64.b64decode(part["data"][kb.PART_KEY]))
        chunk[100] ^= 0xFF
        part["data"][kb.PART_KEY] = base64.b64encode(bytes(chunk)).decode()
    elif damage == "missing-part":
        del secrets.secrets[(NS, f"{NAME}-1")]
    else:
        # A crash after the parts of a newer backup were written, before its manifest.
        newer = kb.pack(kb.SQLITE_MAGIC + os.urandom(2 * 1024 * 1024), NAME)
        part["data"] = {
            k: base64.b64encode(v).decode() for k, v in newer.secrets[f"{NAME}-1"].items()
        }
    target = tmp_path / "heketi.db"
    with pytest.raises(kb.BackupError):
        await kb.restore_if_missing(str(target), backup)
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir()] == []


async def test_restore_only_when_missing_and_present(
    fake: tuple[FakeSecrets, str], backup: kb.KubeDbBackup, tmp_path: Path,
) -> None:
    target = tmp_path / "heketi.db"
    assert await kb.restore_if_missing(str(target), backup) is False  # no backup yet
    assert not target.exists()
    assert await kb.restore_if_missing(str(target), None) is False  # backups disabled
    target.write_bytes(b"existing")
    assert await backup.backup(kb.SQLITE_MAGIC + b"other")
    assert await kb.restore_if_missing(str(target), backup) is False
    assert target.read_bytes() == b"existing"


async def test_heketi_bolt_backup_is_refused_with_advice(
    fake: tuple[FakeSecrets, str], backup: kb.KubeDbBackup, tmp_path: Path,
) -> None:
    secrets, _url = fake
    import gzip

    bolt = gzip.compress(b"\x00" * 16 + b"bolt database pages")
    secrets.secrets[(NS, NAME)] = {
        "metadata": {"name": NAME, "resourceVersion": "1"},
        "data": {kb.SINGLE_KEY: base64.b64encode(bolt).decode()},
    }
    with pytest.raises(kb.BackupError, match="heketipy db import"):
        await backup.fetch()


async def test_fake_api_refuses_secrets_over_one_mib(fake: tuple[FakeSecrets, str]) -> None:
    """Why splitting is needed: one Secret cannot hold more than 1 MiB."""
    _secrets, url = fake
    api = kb.KubeApi(url, NS, token="t0ken")
    try:
        with pytest.raises(kb.KubeApiError) as error:
            await api.put_secret("too-big", {"blob": b"\x00" * (MAX_SECRET_BYTES + 1)})
        assert error.value.status == 422
        unauthorized = kb.KubeApi(url, NS, token="wrong")
        with pytest.raises(kb.KubeApiError):
            await unauthorized.get_secret(NAME)
        await unauthorized.close()
    finally:
        await api.close()


def test_request_rules_follow_heketi() -> None:
    assert kb.needs_backup("POST", "/volumes", 202)
    assert kb.needs_backup("DELETE", "/volumes/x", 400)
    assert kb.needs_backup("GET", "/queue/abc", 303)
    assert kb.needs_backup("GET", "/queue/abc", 204)
    assert not kb.needs_backup("GET", "/queue/abc", 200)
    assert not kb.needs_backup("GET", "/volumes", 200)
    assert not kb.needs_backup("HEAD", "/hello", 200)


async def test_hook_coalesces_and_only_logs_failures(
    fake: tuple[FakeSecrets, str], backup: kb.KubeDbBackup, store: tuple[Store, State],
    caplog: pytest.LogCaptureFixture,
) -> None:
    secrets, _url = fake
    db, state = store
    await add_node(db, state, "node1.example.test")
    await kb.backup_after_change(backup, db, "GET", "/volumes", 200)
    await backup.idle()
    assert secrets.data(NS, NAME) is None
    for _ in range(20):
        await kb.backup_after_change(backup, db, "POST", "/volumes", 202)
    await backup.idle()
    assert backup.uploads == 1  # a burst of requests, one upload
    assert secrets.data(NS, NAME) is not None

    await add_node(db, state, "node2.example.test")
    secrets.fail_next[("POST", NAME)] = 500
    await kb.backup_after_change(backup, db, "GET", "/queue/abc", 303)
    await backup.idle()
    assert backup.failures == 1 and "500" in backup.last_error
    assert "backup of the database to secret heketi-db-backup failed" in caplog.text
    # The next change retries and succeeds.
    await kb.backup_after_change(backup, db, "POST", "/nodes", 202)
    await backup.idle()
    assert backup.uploads == 2 and backup.last_error == ""
    restored = await backup.fetch()
    assert restored == await db.backup_bytes()


async def test_unreachable_api_is_counted_not_raised(
    store: tuple[Store, State],
) -> None:
    db, state = store
    await add_node(db, state, "node1.example.test")
    job = kb.KubeDbBackup(kb.KubeApi("http://127.0.0.1:9", NS, timeout_s=5), NAME)
    await kb.backup_after_change(job, db, "POST", "/volumes", 202)
    await job.close()
    assert job.failures == 1


async def test_backup_rereads_a_rotated_token(
    fake: tuple[FakeSecrets, str], tmp_path: Path
) -> None:
    secrets, url = fake
    service_account = tmp_path / "sa"
    service_account.mkdir()
    (service_account / "namespace").write_text("glusterfs\n")
    (service_account / "token").write_text("expired\n")
    api = kb.KubeApi.from_environment(
        {kb.API_URL_ENV: url}, "", service_account_dir=str(service_account)
    )
    assert api is not None and api.namespace == "glusterfs"
    try:
        with pytest.raises(kb.KubeApiError) as caught:
            await api.get_secret("heketi-db-backup")
        assert caught.value.status == 401
        (service_account / "token").write_text("t0ken\n")
        await api.put_secret("heketi-db-backup", {"k": b"v"})
        assert await api.get_secret("heketi-db-backup") == {"k": b"v"}
        assert secrets.data("glusterfs", "heketi-db-backup") == {"k": b"v"}
    finally:
        await api.close()


async def test_unreachable_api_is_a_backup_api_error() -> None:
    api = kb.KubeApi("http://127.0.0.1:9", NS, timeout_s=5)
    api.configuration.retries = 0  # fail fast
    try:
        with pytest.raises(kb.KubeApiError) as caught:
            await api.get_secret("heketi-db-backup")
        assert caught.value.status == 0 and "unreachable" in str(caught.value)
    finally:
        await api.close()


def make_settings(enabled: bool, namespace: str = "", secret: str = "") -> Settings:
    return Settings(
        auth_enabled=False,
        backup_db_to_kube_secret=enabled,
        kube_db_secret_name=secret,
        glusterfs=GlusterfsSettings(
            executor="mock", kubeexec=KubeExecSettings(namespace=namespace)
        ),
    )


def test_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert kb.from_settings(make_settings(False), {}) is None
    monkeypatch.setattr(kb, "SERVICE_ACCOUNT_DIR", str(tmp_path / "none"))
    assert kb.KubeApi.from_environment({}, service_account_dir=str(tmp_path / "none")) is None

    account = tmp_path / "sa"
    account.mkdir()
    (account / "token").write_text("abc\n")
    (account / "namespace").write_text("glusterfs\n")
    api = kb.KubeApi.from_environment(
        {kb.API_URL_ENV: "http://127.0.0.1:8001"}, service_account_dir=str(account)
    )
    assert api is not None
    assert (api.base_url, api.namespace) == ("http://127.0.0.1:8001", "glusterfs")
    assert api.configuration.auth_settings()["BearerToken"]["value"] == "Bearer abc"

    job = kb.from_settings(
        make_settings(True, namespace="ns1", secret="my-backup"),
        {kb.API_URL_ENV: "http://127.0.0.1:8001"},
    )
    assert job is not None
    assert (job.secret_name, job.api.namespace) == ("my-backup", "ns1")
    default = kb.from_settings(make_settings(True), {kb.API_URL_ENV: "http://127.0.0.1:8001"})
    assert default is not None and default.secret_name == "heketi-db-backup"


async def test_backup_through_the_fake_api_server_with_secrets_mounted(tmp_path: Path) -> None:
    from tests.testbed.fake_apiserver import FakeApiServer

    secrets = FakeSecrets()
    server = FakeApiServer(pods=[], token="t0ken", extensions=[secrets])
    url = await server.start()
    job = kb.KubeDbBackup(kb.KubeApi(url, NS, token="t0ken"), NAME, part_bytes=64 * 1024)
    try:
        database = kb.SQLITE_MAGIC + os.urandom(300 * 1024)
        assert await job.backup(database)
        assert secrets.data(NS, f"{NAME}-4") is not None  # 5 parts of 64 KiB
        assert await job.fetch() == database
        denied = kb.KubeDbBackup(kb.KubeApi(url, NS, token="wrong"), NAME)
        with pytest.raises(kb.KubeApiError) as error:
            await denied.fetch()
        assert error.value.status == 401
        await denied.close()
    finally:
        await job.close()
        await server.stop()


async def test_a_fenced_store_is_never_backed_up(
    fake: tuple[FakeSecrets, str], backup: kb.KubeDbBackup, store: tuple[Store, State],
) -> None:
    # A server that lost leadership must not overwrite the new active's backup.
    secrets, _url = fake
    db, state = store
    await add_node(db, state, "node1.example.test")
    db.fence()
    assert await backup.backup_store(db) is False
    assert secrets.data(NS, NAME) is None
