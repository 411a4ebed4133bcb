"""The request/response layer both clients share, free of I/O.

Every endpoint is a *flow*: a generator that yields `HttpRequest` (answered with an
`HttpResponse`) and `Pause` (answered with None), and returns the result. `HeketiClient` and
`AsyncHeketiClient` only differ in how they send a request and how they sleep, so the protocol
rules live here once:

* expected first statuses (201 cluster create, 200 sync calls, 202 async calls), anything else
  -> `HeketiError(status, trimmed body)`;
* 429 -> retried after `Retry-After` (or a backoff) plus random jitter, a bounded number of times;
* 202 + `Location: /queue/<id>` -> the location is polled, with a pause that grows up to the
  configured interval, while it answers `200 + X-Pending`; 303 -> GET the `Location`
  resource (redirects are never followed by the transport); 204 -> done without a resource;
  any other answer -> `HeketiError`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, TypeVar

from heketipy.client.errors import HeketiError

T = TypeVar("T")
R = TypeVar("R")

# Go's http.StatusText where Python's phrase differs (or was renamed in Python 3.13).
_GO_STATUS_TEXT = {
    413: "Request Entity Too Large", 414: "Request URI Too Long",
    416: "Requested Range Not Satisfiable", 418: "I'm a teapot", 422: "Unprocessable Entity",
}


def status_text(status: int) -> str:
    """Go's ``http.StatusText``: the reason phrase of a known status, else empty."""
    if status in _GO_STATUS_TEXT:
        return _GO_STATUS_TEXT[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str  # absolute path (with query), relative to the server URL
    body: bytes | None = None


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]  # case-insensitive mapping (httpx.Headers)
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Pause:
    seconds: float


Step = HttpRequest | Pause
Flow = Generator[Step, HttpResponse | None, T]


@dataclass(frozen=True)
class RetryPolicy:
    """How 429 (server busy) answers are retried.

    The pause is the server's `Retry-After` when it sends one, else `backoff_s * 2**attempt`
    capped at `max_backoff_s`; a random `0..jitter_s` is added so clients do not come back
    in lock-step. After `attempts` retries the 429 is raised.
    """

    attempts: int = 6
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    jitter_s: float = 1.0

    def pause(self, attempt: int, retry_after: str | None) -> float:
        base: float
        try:
            base = float(retry_after) if retry_after is not None else -1.0
        except ValueError:
            base = -1.0
        if base < 0:
            base = min(self.max_backoff_s, self.backoff_s * (2**attempt))
        return base + random.uniform(0, self.jitter_s)


@dataclass(frozen=True)
class PollPolicy:
    """How /queue is polled: the pause starts at `first_s` and doubles up to `interval_s`."""

    interval_s: float = 0.4
    first_s: float = 0.02

    def pause(self, poll: int) -> float:
        return min(self.interval_s, self.first_s * (2**poll))


@dataclass(frozen=True)
class Protocol:
    """The policies a flow runs with; `on_poll(n)` is told about every pending poll."""

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    poll: PollPolicy = field(default_factory=PollPolicy)
    on_poll: Callable[[int], None] | None = None


def error_of(response: HttpResponse) -> HeketiError:
    message = response.text.strip()
    if not message:
        reason = status_text(response.status)
        message = f"server did not provide a message (status {response.status}: {reason})"
    return HeketiError(response.status, message)


def encode(body: Any) -> bytes | None:
    return None if body is None else json.dumps(body).encode()


def send(proto: Protocol, request: HttpRequest) -> Flow[HttpResponse]:
    """One request, retried while the server answers 429."""
    attempt = 0
    while True:
        response = yield request
        assert response is not None
        if response.status != 429 or attempt >= proto.retry.attempts:
            return response
        yield Pause(proto.retry.pause(attempt, response.headers.get("Retry-After")))
        attempt += 1


def call(
    proto: Protocol, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200,)
) -> Flow[HttpResponse]:
    """A synchronous endpoint: the answer must have one of the `expect` statuses."""
    response = yield from send(proto, HttpRequest(method, path, encode(body)))
    if response.status not in expect:
        raise error_of(response)
    return response


def call_json(
    proto: Protocol, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200,)
) -> Flow[Any]:
    response = yield from call(proto, method, path, body, expect)
    return response.json() if response.body.strip() else None


def _path_of(location: str) -> str:
    # Heketi sends relative locations; an absolute one is reduced to its path and query.
    if "://" in location:
        rest = location.split("://", 1)[1]
        return "/" + rest.split("/", 1)[1] if "/" in rest else "/"
    return location if location.startswith("/") else "/" + location


def wait_for(proto: Protocol, location: str) -> Flow[HttpResponse | None]:
    """Poll a /queue location until the operation ends; the resource reply, or None (204)."""
    poll = 0
    path = _path_of(location)
    while True:
        response = yield from send(proto, HttpRequest("GET", path))
        if response.status == 200 and response.headers.get("X-Pending", "").lower() == "true":
            if proto.on_poll is not None:
                proto.on_poll(poll)
            yield Pause(proto.poll.pause(poll))
            poll += 1
            continue
        if response.status == 303:
            target = response.headers.get("Location", "")
            resource = yield from send(proto, HttpRequest("GET", _path_of(target)))
            if resource.status != 200:
                raise error_of(resource)
            return resource
        if response.status == 200:
            return response
        if response.status == 204:
            return None
        raise error_of(response)


def operation(proto: Protocol, method: str, path: str, body: Any = None) -> Flow[Any]:
    """An asynchronous endpoint (202 + /queue): the resulting resource's JSON, or None."""
    accepted = yield from call(proto, method, path, body, expect=(202,))
    location = accepted.headers.get("Location")
    if not location:
        return None
    result = yield from wait_for(proto, location)
    if result is None or not result.body.strip():
        return None
    return result.json()


def mapped(flow: Flow[T], convert: Callable[[T], R]) -> Flow[R]:
    """``flow`` with ``convert`` applied to its result (JSON -> a model)."""
    return convert((yield from flow))
