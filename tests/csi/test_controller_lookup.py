"""Unit: how CreateVolume finds, creates and serialises, against a scripted heketipy client -
the cases a single real server cannot stage on demand (same-named volumes in two clusters, a
create racing another driver process between lookup and create)."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from heketipy.client.errors import HeketiError
from heketipy.client.models import Volume
from heketipy.csi import naming, params
from heketipy.csi.controller import ControllerService
from heketipy.third_party.csi_spec import csi_pb2 as pb
from tests.csi.driver import create_request

OWN, FOREIGN, PENDING = "1" * 32, "2" * 32, "3" * 32
IN_USE = "Failed to allocate new volume: Volume name 'pvc-1' already in use"


def volume(volume_id: str, name: str, token: str | None) -> Volume:
    options = [f"user.heketi.csi-name {token}"] if token else []
    return Volume.model_validate({
        "id": volume_id, "name": name, "size": 1,
        "gid": params.gid_for("pvc-1", params.parse_parameters({})), "cluster": "c" * 32,
        "durability": {"type": "replicate", "replicate": {"replica": 3}},
        "glustervolumeoptions": options,
        "mount": {"glusterfs": {"hosts": ["10.0.0.1"], "device": f"10.0.0.1:{name}",
                                "options": {}}},
    })


class ScriptedClient:
    """``lookups``: the ids the successive name lookups answer; ``volumes``: by id (missing:
    404, a create still pending); ``create_error``: what volume_create raises."""

    def __init__(self, lookups: list[list[str]], volumes: dict[str, Volume],
                 create_error: HeketiError | None = None) -> None:
        self.lookups = lookups
        self.volumes = volumes
        self.create_error = create_error
        self.created: list[dict[str, Any]] = []
        self.looked_up: list[str] = []
        self.gate: asyncio.Event | None = None  # set: the first lookup waits for it

    async def volume_ids_by_name(self, name: str) -> list[str]:
        self.looked_up.append(name)
        if self.gate is not None and len(self.looked_up) == 1:
            await self.gate.wait()
        return self.lookups.pop(0) if self.lookups else []

    async def volume_info(self, volume_id: str) -> Volume:
        if volume_id not in self.volumes:
            raise HeketiError(404, "Id not found")
        return self.volumes[volume_id]

    async def volume_create(self, body: dict[str, Any]) -> Volume:
        self.created.append(body)
        if self.create_error is not None:
            raise self.create_error
        return volume(OWN, body["name"], "pvc-1")


class Aborted(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


class Context:
    async def abort(self, code: grpc.StatusCode, message: str) -> None:
        raise Aborted(code, message)


def create(client: ScriptedClient, parameters: dict[str, str] | None = None
           ) -> pb.CreateVolumeResponse:
    service = ControllerService(client)  # type: ignore[arg-type]
    return asyncio.run(service.CreateVolume(create_request("pvc-1", parameters=parameters),
                                            Context()))  # type: ignore[arg-type]


def test_own_volume_is_found_behind_a_foreign_one_of_the_same_name() -> None:
    """Names are unique per cluster only: another cluster's "pvc-1" must not hide ours."""
    client = ScriptedClient([[FOREIGN, OWN]], {FOREIGN: volume(FOREIGN, "pvc-1", None),
                                               OWN: volume(OWN, "pvc-1", "pvc-1")})
    assert create(client).volume.volume_id == OWN
    assert client.created == []


def test_only_foreign_volumes_of_the_name_are_already_exists() -> None:
    client = ScriptedClient([[FOREIGN]], {FOREIGN: volume(FOREIGN, "pvc-1", "pvc-other")})
    with pytest.raises(Aborted) as caught:
        create(client)
    assert caught.value.code == grpc.StatusCode.ALREADY_EXISTS
    assert client.created == []


def test_a_pending_volume_of_the_name_is_aborted_unless_ours_is_there() -> None:
    client = ScriptedClient([[PENDING]], {})
    with pytest.raises(Aborted) as caught:
        create(client)
    assert caught.value.code == grpc.StatusCode.ABORTED
    client = ScriptedClient([[PENDING, OWN]], {OWN: volume(OWN, "pvc-1", "pvc-1")})
    assert create(client).volume.volume_id == OWN


def test_name_taken_by_a_racing_create_for_the_same_csi_name_returns_that_volume() -> None:
    """Another driver process (a restarted one) created it between our lookup and create."""
    client = ScriptedClient([[], [OWN]], {OWN: volume(OWN, "pvc-1", "pvc-1")},
                            create_error=HeketiError(500, IN_USE))
    assert create(client).volume.volume_id == OWN
    assert len(client.created) == 1 and client.looked_up == ["pvc-1", "pvc-1"]


def test_name_taken_by_a_racing_create_still_pending_is_aborted() -> None:
    client = ScriptedClient([[], [PENDING]], {}, create_error=HeketiError(500, IN_USE))
    with pytest.raises(Aborted) as caught:
        create(client)
    assert caught.value.code == grpc.StatusCode.ABORTED


def test_name_taken_by_someone_else_is_already_exists() -> None:
    client = ScriptedClient([[], [FOREIGN]], {FOREIGN: volume(FOREIGN, "pvc-1", None)},
                            create_error=HeketiError(500, IN_USE))
    with pytest.raises(Aborted) as caught:
        create(client)
    assert caught.value.code == grpc.StatusCode.ALREADY_EXISTS


def test_one_csi_name_is_serialised_whatever_its_heketi_name() -> None:
    """Different parameters give the same CSI name different Heketi names; the second call
    must still wait for the first (ABORTED), not look up and create beside it."""
    async def scenario() -> tuple[pb.CreateVolumeResponse, BaseException | None]:
        client = ScriptedClient([[]], {})
        client.gate = asyncio.Event()
        service = ControllerService(client)  # type: ignore[arg-type]
        first = asyncio.ensure_future(service.CreateVolume(
            create_request("pvc-1", parameters={"volumenameprefix": "a"}), Context()))
        while not client.looked_up:
            await asyncio.sleep(0)
        second_error: BaseException | None = None
        try:
            await service.CreateVolume(
                create_request("pvc-1", parameters={"volumenameprefix": "b"}), Context())
        except Aborted as exc:
            second_error = exc
        assert client.looked_up == [f"a_{naming.csi_token('pvc-1')}"]
        client.gate.set()
        return await first, second_error

    response, second_error = asyncio.run(scenario())
    assert response.volume.volume_id == OWN
    assert isinstance(second_error, Aborted)
    assert second_error.code == grpc.StatusCode.ABORTED
