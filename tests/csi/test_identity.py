"""Unit: Probe's readiness follows heketipy, bounded in time, and never depends on it in node
mode."""

from __future__ import annotations

import asyncio

import pytest

from heketipy.client.errors import HeketiConnectionError
from heketipy.csi import identity
from heketipy.third_party.csi_spec import csi_pb2 as pb
from tests.csi.test_node import FakeContext


class Heketi:
    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.calls = 0

    async def hello(self) -> str:
        self.calls += 1
        if self.behaviour == "hang":
            await asyncio.sleep(3600)
        if self.behaviour == "down":
            raise HeketiConnectionError("connection refused")
        return "Hello from Heketi"


@pytest.mark.parametrize("behaviour, ready", [("up", True), ("down", False), ("hang", False)])
async def test_probe_follows_heketipy(behaviour: str, ready: bool,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(identity, "PROBE_TIMEOUT_S", 0.05)
    service = identity.IdentityService(Heketi(behaviour), controller=True)  # type: ignore[arg-type]
    response = await service.Probe(pb.ProbeRequest(), FakeContext())
    assert response.ready.value is ready


async def test_node_mode_probe_does_not_ask_heketipy() -> None:
    heketi = Heketi("down")
    service = identity.IdentityService(heketi, controller=False)  # type: ignore[arg-type]
    response = await service.Probe(pb.ProbeRequest(), FakeContext())
    assert response.ready.value is True and heketi.calls == 0
