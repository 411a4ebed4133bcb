"""The client's shared request/response layer, against scripted HTTP answers (no network):
/queue polling, 303 handling, 429 retries, errors, a fresh JWT per request, sync and async
drivers behaving the same."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import httpx
import pytest

from heketipy.client import AsyncHeketiClient, HeketiClient, HeketiError, RetryPolicy
from heketipy.client.flows import PollPolicy
from heketipy.client.token import query_hash

NO_WAIT = RetryPolicy(attempts=3, backoff_s=0.0, max_backoff_s=0.0, jitter_s=0.0)
VOLUME = {"size": 1, "name": "v", "durability": {"type": "none"}, "id": "a" * 32,
          "cluster": "c" * 32, "blockinfo": {}, "bricks": []}


def claims_of(request: httpx.Request) -> dict:
    scheme, token = request.headers["Authorization"].split(" ")
    assert scheme == "bearer"
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class Script:
    """Answers requests in order; records what was sent."""

    def __init__(self, *answers: Callable[[httpx.Request], httpx.Response]) -> None:
        self.answers = list(answers)
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return self.answers.pop(0)(request)


def reply(status: int, body: object = None, **headers: str) -> Callable:
    def make(_: httpx.Request) -> httpx.Response:
        content = b"" if body is None else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
        return httpx.Response(status, content=content, headers=headers)
    return make


def volume_create_script() -> Script:
    return Script(
        reply(202, Location="/queue/" + "1" * 32),
        reply(200, **{"X-Pending": "true"}),
        reply(200, **{"X-Pending": "true"}),
        reply(303, Location="/volumes/" + "a" * 32),
        reply(200, VOLUME),
    )


def sync_client(script: Script, **kwargs) -> HeketiClient:
    return HeketiClient("http://heketi.test", "admin", "key", retry=NO_WAIT,
                        transport=httpx.MockTransport(script), poll_interval_s=0.0, **kwargs)


def test_async_operation_polls_then_follows_the_303() -> None:
    script = volume_create_script()
    polls: list[int] = []
    with sync_client(script, on_poll=polls.append) as client:
        volume = client.volume_create({"size": 1})
    assert volume.id == "a" * 32 and volume.durability.type == "none"
    assert [(r.method, r.url.path) for r in script.seen] == [
        ("POST", "/volumes"), ("GET", "/queue/" + "1" * 32), ("GET", "/queue/" + "1" * 32),
        ("GET", "/queue/" + "1" * 32), ("GET", "/volumes/" + "a" * 32)]
    assert polls == [0, 1]


def test_every_request_carries_its_own_token() -> None:
    script = volume_create_script()
    with sync_client(script) as client:
        client.volume_create({"size": 1})
    for request in script.seen:
        claims = claims_of(request)
        assert claims["iss"] == "admin"
        assert claims["qsh"] == query_hash(request.method, request.url.path)
        assert claims["exp"] > claims["iat"]


def test_model_keeps_the_wire_shape() -> None:
    script = volume_create_script()
    with sync_client(script) as client:
        volume = client.volume_create({"size": 1})
    assert volume.to_wire() == VOLUME
    assert list(volume.to_wire()) == list(VOLUME)


def test_429_is_retried_honouring_retry_after() -> None:
    script = Script(reply(429, "Server busy. Retry operation later.\n", **{"Retry-After": "0"}),
                    reply(201, {"id": "c" * 32, "nodes": [], "volumes": [], "block": True,
                                "file": True, "blockvolumes": []}))
    with sync_client(script) as client:
        assert client.cluster_create().id == "c" * 32
    assert len(script.seen) == 2


def test_429_gives_up_after_the_bounded_attempts() -> None:
    script = Script(*[reply(429, "Server busy. Retry operation later.\n")] * 4)
    with sync_client(script) as client, pytest.raises(HeketiError) as caught:
        client.cluster_list()
    assert caught.value.status == 429
    assert caught.value.message == "Server busy. Retry operation later."
    assert len(script.seen) == NO_WAIT.attempts + 1


def test_retry_pause_uses_retry_after_plus_jitter() -> None:
    policy = RetryPolicy(backoff_s=1.0, max_backoff_s=8.0, jitter_s=0.5)
    assert 3.0 <= policy.pause(0, "3") <= 3.5
    assert 4.0 <= policy.pause(2, None) <= 4.5
    assert 8.0 <= policy.pause(10, "soon") <= 8.5


def test_poll_pause_grows_to_the_interval() -> None:
    policy = PollPolicy(interval_s=0.4, first_s=0.05)
    assert [policy.pause(n) for n in range(5)] == [0.05, 0.1, 0.2, 0.4, 0.4]


def test_errors_carry_status_and_trimmed_text() -> None:
    script = Script(reply(404, "Id not found\n"))
    with sync_client(script) as client, pytest.raises(HeketiError) as caught:
        client.volume_info("b" * 32)
    assert (caught.value.status, str(caught.value)) == (404, "Id not found")


def test_error_without_a_message() -> None:
    script = Script(reply(500))
    with sync_client(script) as client, pytest.raises(HeketiError) as caught:
        client.cluster_list()
    assert caught.value.message == "server did not provide a message (status 500: Internal Server Error)"


def test_failed_operation_raises_the_queue_text() -> None:
    script = Script(reply(202, Location="/queue/" + "2" * 32), reply(500, "Id not found\n"))
    with sync_client(script) as client, pytest.raises(HeketiError) as caught:
        client.node_delete("d" * 32)
    assert (caught.value.status, caught.value.message) == (500, "Id not found")


def test_operation_without_resource_returns_none() -> None:
    script = Script(reply(202, Location="/queue/" + "3" * 32), reply(204))
    with sync_client(script) as client:
        assert client.device_delete("e" * 32, force_forget=True) is None
    assert json.loads(script.seen[0].content) == {"forceforget": True}


def test_empty_user_sends_no_issuer() -> None:
    script = Script(reply(200, {"clusters": []}))
    with HeketiClient("http://heketi.test", transport=httpx.MockTransport(script)) as client:
        client.cluster_list()
    assert "iss" not in claims_of(script.seen[0])


async def test_async_client_drives_the_same_flow() -> None:
    script = volume_create_script()
    async with AsyncHeketiClient(
        "http://heketi.test", "admin", "key", retry=NO_WAIT, poll_interval_s=0.0,
        transport=httpx.MockTransport(script),
    ) as client:
        volume = await client.volume_create({"size": 1})
    assert volume.to_wire() == VOLUME
    assert len(script.seen) == 5


def test_connection_refused_reads_like_go() -> None:
    with HeketiClient("http://127.0.0.1:1", "admin", "key") as client, \
            pytest.raises(HeketiError) as caught:
        client.cluster_list()
    assert caught.value.message == (
        'Get "http://127.0.0.1:1/clusters": dial tcp 127.0.0.1:1: connect: connection refused'
    )
