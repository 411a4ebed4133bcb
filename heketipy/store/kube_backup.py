"""Backup of the database into Kubernetes Secrets (``backup_db_to_kube_secret``), and restore.

Heketi stores its gzipped database in one Secret (``heketi-db-backup``, key ``heketi.db.gz``),
which stops working once the compressed database passes the 1 MiB Secret limit. heketipy
gzips the SQLite backup and splits it over as many Secrets as needed:

* ``<name>-1``, ``<name>-2``, ... hold parts 2.. under the key ``heketi.db.gz.part``;
* ``<name>`` holds the first part and the manifest ``heketipy-backup.json``: format, sizes and
  SHA-256 of the database, of the gzip stream and of every part. A backup that fits one Secret
  keeps Heketi's key ``heketi.db.gz``.

The part Secrets are written first and the manifest Secret last, so the manifest always
describes a complete set; a crash in between leaves a mismatch that restore detects by checksum
and refuses rather than restoring a mixed database. Parts no longer needed are emptied (RBAC
needs only get/create/update on secrets). Nothing is uploaded when the database is unchanged.

``backup_after_change`` is the hook the HTTP layer calls after each request: like Heketi, it
backs up after every non-GET request and after a ``GET /queue/...`` that reports a finished
operation (204/303). It never delays the reply: backups run in one background task that
coalesces bursts; failures are logged, as Heketi does. ``restore_if_missing`` runs at start-up
before the store is opened and recreates a missing or empty (zero-byte, table-less) database
file from the Secrets.

The manifest records the database's generation (``db_generation``). An empty database (no
topology) never replaces a backup of another generation, or one whose generation cannot be
read: a truncated database restarted fresh must not wipe the last good copy.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import hashlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from heketipy.config import Settings
from heketipy.store import probe
from heketipy.store.durable import fsync_directory, write_new_file

log = logging.getLogger("heketipy.backup")

FORMAT = "heketipy-db-backup/1"
MANIFEST_KEY = "heketipy-backup.json"
SINGLE_KEY = "heketi.db.gz"  # Heketi's key, used while the backup fits one Secret
PART_KEY = "heketi.db.gz.part"
# Kubernetes refuses Secrets over 1 MiB of data; keep room for the manifest.
DEFAULT_PART_BYTES = 768 * 1024
SQLITE_MAGIC = probe.SQLITE_MAGIC
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"  # = kubeapi's
# Out of cluster (``kubectl proxy``, tests): talk to this URL instead of the in-cluster API.
API_URL_ENV = "HEKETIPY_KUBE_API_URL"
LABELS = {"app.kubernetes.io/managed-by": "heketipy", "app.kubernetes.io/component": "db-backup"}


class KubeApiError(Exception):
    """The API answered with an error ``status``, or (status 0) could not be reached."""

    def __init__(self, status: int, message: str) -> None:
        if status:
            super().__init__(f"kubernetes API answered {status}: {message}")
        else:
            super().__init__(f"kubernetes API unreachable: {message}")
        self.status = status


class BackupError(Exception):
    """A backup in the Secrets that cannot be restored (incomplete, corrupt, foreign)."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- the API client ----------------------------------------------------------------------------
class KubeApi:
    """The few core/v1 Secret calls the backup needs (read, create, replace), through the
    ``kubernetes`` client configured by ``heketipy.kubeapi`` (as the pod-exec transport is);
    the client blocks, so each call runs in a worker thread."""

    def __init__(
        self,
        base_url: str | None,
        namespace: str,
        *,
        token: str | None = None,
        token_path: str | None = None,
        configuration: Any = None,
        timeout_s: float = 30,
    ) -> None:
        """The API at ``base_url`` (with ``token``, or the token in ``token_path`` read anew
        for every request), or the one ``configuration`` (a ``kubernetes`` client
        ``Configuration``) describes."""
        from heketipy import kubeapi  # the kube extra: only a configured backup needs it

        self._kubeapi = kubeapi
        self.configuration = configuration or kubeapi.configuration(
            api_url=base_url, token=token, token_file=token_path
        )
        self.namespace = namespace
        self.timeout_s = timeout_s
        self._client: Any = None

    @property
    def base_url(self) -> str:
        return str(self.configuration.host)

    @classmethod
    def from_environment(
        cls,
        environ: Mapping[str, str],
        namespace: str = "",
        service_account_dir: str | None = None,
    ) -> KubeApi | None:
        """The in-cluster API (service host + service account), or ``HEKETIPY_KUBE_API_URL``.

        None when neither is available: Heketi backs up only when running in a cluster.
        """
        from heketipy import kubeapi

        service_account_dir = service_account_dir or SERVICE_ACCOUNT_DIR  # read at call time
        namespace_file = os.path.join(service_account_dir, "namespace")
        namespace = kubeapi.namespace(namespace, namespace_file, fallback="default")
        if environ.get(API_URL_ENV):
            token_path: str | None = os.path.join(service_account_dir, "token")
            if not os.path.exists(str(token_path)):
                token_path = None
            return cls(environ[API_URL_ENV], namespace, token_path=token_path)
        if not kubeapi.in_cluster(environ):
            return None
        try:
            configuration = kubeapi.configuration(
                environ=environ, service_account_dir=service_account_dir,
                user="backup_db_to_kube_secret",
            )  # fmt: skip
        except kubeapi.KubeConfigError as exc:
            log.warning("%s", exc)
            return None
        return cls(None, namespace, configuration=configuration)

    def _core(self) -> Any:
        if self._client is None:
            from kubernetes.client import CoreV1Api

            self._client = CoreV1Api(self._kubeapi.api_client(self.configuration))
        return self._client

    async def _call(self, verb: str, *args: Any, **kwargs: Any) -> tuple[int, Any]:
        """``<verb>_namespaced_secret``: the HTTP status and the decoded JSON answer."""
        method = getattr(self._core(), f"{verb}_namespaced_secret")

        def call() -> tuple[int, Any]:
            from kubernetes.client.rest import ApiException

            try:
                response = method(
                    *args, self.namespace, _preload_content=False,
                    _request_timeout=self.timeout_s, **kwargs,
                )  # fmt: skip
                status, text = response.status, response.data
            except ApiException as exc:
                status, text = int(exc.status or 0), exc.body
            except Exception as exc:  # noqa: BLE001 - no answer at all: connection, TLS, timeout
                raise KubeApiError(0, self._kubeapi.error_text(exc)) from exc
            try:
                return status, json.loads(text) if text else None
            except ValueError:
                return status, text

        return await asyncio.to_thread(call)

    @staticmethod
    def _error(status: int, payload: Any) -> KubeApiError:
        message = payload.get("message", "") if isinstance(payload, dict) else str(payload)
        return KubeApiError(status, message)

    async def get_secret(self, name: str) -> dict[str, bytes] | None:
        """The decoded data of Secret ``name``; None if it does not exist."""
        status, payload = await self._call("read", name)
        if status == 404:
            return None
        if status != 200:
            raise self._error(status, payload)
        data = payload.get("data") or {}
        return {key: base64.b64decode(value) for key, value in data.items()}

    async def put_secret(self, name: str, data: Mapping[str, bytes]) -> None:
        """Create Secret ``name`` holding ``data``, or replace it if it exists (as Heketi)."""
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": name, "labels": dict(LABELS)},
            "data": {key: base64.b64encode(value).decode() for key, value in data.items()},
        }
        status, payload = await self._call("create", body=body)
        if status == 409:
            status, payload = await self._call("replace", name, body=body)
        if status not in (200, 201):
            raise self._error(status, payload)

    async def close(self) -> None:
        if self._client is not None:
            await asyncio.to_thread(self._client.api_client.close)
            self._client = None


# -- packing -----------------------------------------------------------------------------------
@dataclass
class Packed:
    manifest: dict[str, Any]
    secrets: dict[str, dict[str, bytes]]  # Secret name -> data, the manifest Secret included


def part_name(base: str, index: int) -> str:
    return base if index == 0 else f"{base}-{index}"


def pack(
    db_bytes: bytes, base: str, part_bytes: int = DEFAULT_PART_BYTES, *,
    generation: str | None = None,
) -> Packed:
    """Split the gzipped database into Secret payloads with a checksummed manifest."""
    # mtime=0: the same database always compresses to the same bytes.
    compressed = gzip.compress(db_bytes, compresslevel=6, mtime=0)
    chunks = [compressed[i:i + part_bytes] for i in range(0, len(compressed), part_bytes)] or [b""]
    key = SINGLE_KEY if len(chunks) == 1 else PART_KEY
    parts = [
        {"secret": part_name(base, i), "key": key, "size": len(chunk), "sha256": _sha256(chunk)}
        for i, chunk in enumerate(chunks)
    ]
    manifest = {
        "format": FORMAT,
        "created": int(time.time()),
        "db_size": len(db_bytes),
        "db_sha256": _sha256(db_bytes),
        "gz_size": len(compressed),
        "gz_sha256": _sha256(compressed),
        "parts": parts,
    }
    if generation is not None:
        manifest["db_generation"] = generation
    secrets = {part_name(base, i): {key: chunk} for i, chunk in enumerate(chunks)}
    secrets[base][MANIFEST_KEY] = json.dumps(manifest, sort_keys=True).encode()
    return Packed(manifest, secrets)


def manifest_of(primary: Mapping[str, bytes]) -> dict[str, Any] | None:
    raw = primary.get(MANIFEST_KEY)
    if raw is None:
        return None
    try:
        manifest = json.loads(raw)
    except ValueError as exc:
        raise BackupError(f"backup manifest is not JSON: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')!r}")
    return manifest


def unpack_database(compressed: bytes) -> bytes:
    try:
        database = gzip.decompress(compressed)
    except (OSError, EOFError) as exc:
        raise BackupError(f"backup is not a gzip stream: {exc}") from exc
    if not database.startswith(SQLITE_MAGIC):
        raise BackupError(
            "backup is not a heketipy (SQLite) database; a Heketi (bolt) backup cannot be "
            "restored: export it with heketi and load it with `heketipy db import`"
        )
    return database


# -- backup and restore ------------------------------------------------------------------------
class KubeDbBackup:
    """Backs the database up into Secrets named after ``secret_name`` and restores it."""

    def __init__(
        self, api: KubeApi, secret_name: str, *,
        part_bytes: int = DEFAULT_PART_BYTES,
    ) -> None:
        self.api = api
        self.secret_name = secret_name
        self.part_bytes = part_bytes
        self.uploads = 0
        self.failures = 0
        self.last_error: str = ""
        self._remote: dict[str, Any] | None = None  # manifest known to be in the Secrets
        self._remote_present = False  # the primary Secret holds a backup, manifest or not
        self._remote_read = False
        self._backed_commits: int | None = None
        self._dirty = False
        self._task: asyncio.Task[None] | None = None

    async def _remote_manifest(self) -> dict[str, Any] | None:
        if not self._remote_read:
            primary = await self.api.get_secret(self.secret_name)
            self._remote_present = bool(primary)
            try:
                self._remote = manifest_of(primary) if primary else None
            except BackupError:
                self._remote = None
            self._remote_read = True
        return self._remote

    async def _remote_generation(self, manifest: dict[str, Any] | None) -> str | None:
        """The generation of the database in the Secrets; None when it cannot be told."""
        if manifest is not None and manifest.get("db_generation"):
            return str(manifest["db_generation"])
        try:
            database = await self.fetch()
        except (BackupError, KubeApiError):
            return None
        return probe.describe(database).generation if database is not None else None

    async def backup(self, db_bytes: bytes) -> bool:
        """Upload ``db_bytes``; False when the Secrets already hold exactly this database.

        Raises ``BackupError`` rather than replace a backup of another (or an unknown)
        generation with an empty database."""
        previous = await self._remote_manifest()
        if previous is not None and previous.get("db_sha256") == _sha256(db_bytes):
            return False
        contents = await asyncio.to_thread(probe.describe, db_bytes)
        if contents.blank and self._remote_present:
            held = await self._remote_generation(previous)
            if held is None or held != contents.generation:
                raise BackupError(
                    f"refusing to replace the backup of database generation "
                    f"{held or '(unknown)'} in secret {self.secret_name} with an empty "
                    f"database of generation {contents.generation or '(none)'} (delete the "
                    "secret to drop that backup)"
                )
        packed = pack(db_bytes, self.secret_name, self.part_bytes, generation=contents.generation)
        # Parts first, manifest Secret last: the manifest only ever names a complete set.
        for name, data in packed.secrets.items():
            if name != self.secret_name:
                await self.api.put_secret(name, data)
        await self.api.put_secret(self.secret_name, packed.secrets[self.secret_name])
        self._remote = packed.manifest
        self._remote_present = True
        old_count = len(previous["parts"]) if previous else 0
        for index in range(len(packed.manifest["parts"]), old_count):
            await self.api.put_secret(part_name(self.secret_name, index), {})
        self.uploads += 1
        return True

    async def backup_store(self, store: Any) -> bool:
        """Back up ``store`` (a ``heketipy.store.sqlite.Store``) unless nothing was committed,
        or it was fenced: a server that lost leadership must not overwrite the new active's
        backup."""
        commits = store.commits
        if commits == self._backed_commits or store.fenced:
            return False
        uploaded = await self.backup(await store.backup_bytes())
        self._backed_commits = commits
        return uploaded

    async def fetch(self) -> bytes | None:
        """The database held in the Secrets, verified; None when there is no backup."""
        primary = await self.api.get_secret(self.secret_name)
        if primary is None:
            return None
        manifest = manifest_of(primary)
        if manifest is None:
            if SINGLE_KEY not in primary:
                return None
            return unpack_database(primary[SINGLE_KEY])
        chunks = []
        for part in manifest["parts"]:
            data = primary if part["secret"] == self.secret_name else await self.api.get_secret(
                part["secret"]
            )
            chunk = (data or {}).get(part["key"])
            if chunk is None:
                raise BackupError(f"backup part {part['secret']} is missing")
            if _sha256(chunk) != part["sha256"]:
                raise BackupError(f"backup part {part['secret']} does not match its checksum")
            chunks.append(chunk)
        compressed = b"".join(chunks)
        if _sha256(compressed) != manifest["gz_sha256"]:
            raise BackupError("backup does not match its checksum")
        database = unpack_database(compressed)
        if _sha256(database) != manifest["db_sha256"]:
            raise BackupError("restored database does not match its checksum")
        return database

    async def restore_to(self, db_path: str, *, expect_generation: str | None = None) -> bool:
        """Write the backed-up database to ``db_path``; False when there is no backup.

        With ``expect_generation``, a backup of another generation raises ``BackupError`` and
        ``db_path`` is left as it was."""
        database = await self.fetch()
        if database is None:
            return False
        if expect_generation is not None:
            held = probe.describe(database).generation
            if held != expect_generation:
                raise BackupError(
                    f"it holds database generation {held or '(unknown)'}, not the recorded "
                    f"generation {expect_generation}"
                )
        await asyncio.to_thread(_write_database, db_path, database)
        return True

    # -- background scheduling ---------------------------------------------------------------
    def request(self, store: Any) -> None:
        """Ask for a backup soon; bursts of requests collapse into one upload."""
        self._dirty = True
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(store), name="kube-db-backup")

    async def _run(self, store: Any) -> None:
        while self._dirty:
            self._dirty = False
            try:
                await self.backup_store(store)
                self.last_error = ""
            except Exception as exc:  # noqa: BLE001 - a failed backup must not fail requests
                self.failures += 1
                self.last_error = str(exc)
                # Ask the API again next time: the Secrets may hold anything after a failure.
                self._remote_read = False
                log.error("backup of the database to secret %s failed: %s", self.secret_name, exc)

    async def idle(self) -> None:
        """Wait until every requested backup has run."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def close(self, store: Any = None) -> None:
        """Finish pending work (with one last backup of ``store`` if given) and disconnect."""
        if store is not None:
            self.request(store)
        with contextlib.suppress(Exception):
            await self.idle()
        await self.api.close()


def _write_database(db_path: str, database: bytes) -> None:
    """Write atomically and only a database SQLite itself calls intact."""
    directory = os.path.dirname(os.path.abspath(db_path))
    os.makedirs(directory, exist_ok=True)
    temporary = f"{db_path}.restore-{os.getpid()}"
    # One left by a crashed restore of this same pid would make the exclusive create fail.
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary)
    try:
        write_new_file(temporary, database)
        conn = sqlite3.connect(temporary)
        try:
            verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            conn.close()
        if verdict != "ok":
            raise BackupError(f"restored database fails the integrity check: {verdict}")
        # A journal left by the lost database would be replayed onto the restored one.
        for suffix in ("-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(db_path + suffix)
        os.replace(temporary, db_path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    fsync_directory(directory)


# -- wiring ------------------------------------------------------------------------------------
def from_settings(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> KubeDbBackup | None:
    """The backup the settings ask for, or None (disabled, or not running in a cluster)."""
    if not settings.backup_db_to_kube_secret:
        return None
    environ = os.environ if environ is None else environ
    api = KubeApi.from_environment(environ, settings.glusterfs.kubeexec.namespace)
    if api is None:
        log.warning("backup_db_to_kube_secret is set but heketipy is not running in Kubernetes")
        return None
    return KubeDbBackup(api, settings.kube_db_secret_name)


def needs_backup(method: str, path: str, status: int) -> bool:
    """Heketi's rule: every non-GET request, and a /queue read reporting a finished operation."""
    if method in ("GET", "HEAD", "OPTIONS"):
        return method == "GET" and path.startswith("/queue/") and status in (204, 303)
    return True


async def backup_after_change(
    backup: KubeDbBackup | None, store: Any, method: str, path: str, status: int
) -> None:
    """The HTTP layer's hook after each request: schedule a backup when one is due."""
    if backup is not None and needs_backup(method, path, status):
        backup.request(store)


async def restore_if_missing(
    db_path: str, backup: KubeDbBackup | None, *, expect_generation: str | None = None
) -> bool:
    """At start-up: recreate a missing or empty database file from the Secrets (one of
    ``expect_generation`` when given). True if restored."""
    if backup is None:
        return False
    found = await asyncio.to_thread(probe.inspect, db_path)
    if not found.restorable:
        return False
    restored = await backup.restore_to(db_path, expect_generation=expect_generation)
    if restored:
        log.warning("database %s was %s: restored it from secret %s", db_path, found.kind,
                    backup.secret_name)
    return restored
