"""Black-box conformance: one test per item of the Heketi contract checklist (section 1 of
heketi-contract.md, refined by its section 17 errata), against a real heketipy process.

Exact statuses, headers and texts come from the contract and the upstream golden recordings
(golden/http/*.json).  Deliberate heketipy differences asserted here, as the lead specified:
requests beyond ``max_inflight_operations`` wait in a FIFO of ``wait_queue_size`` and a 429
carries ``Retry-After``; "No space" errors may carry an explanation after Heketi's text.

Servers are module-scoped and shared by the tests that can share state; tests that need an
operation to stay in flight use servers whose mock executor sleeps per node call.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.polling import wait_until
from tests.support.server import ADMIN_KEY, USER_KEY, Reply, ServerProcess, running_server

# --------------------------------------------------------------------------------------------
# Expected constants (golden recordings)
# --------------------------------------------------------------------------------------------

HEX32 = re.compile(r"[0-9a-f]{32}")
JSON_TYPE = "application/json; charset=UTF-8"
ERROR_TYPE = "text/plain; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
MOCK_ENV = {"HEKETI_MOCK_DEVICE_SIZE_GB": "500"}
DEVICE_KIB = 500 * 1024 * 1024
# Latency per mock node call for servers whose operations must be observed in flight.
SLOW_MS = 400

NOT_FOUND = "Id not found"
BAD_PATH = "Invalid path or request"
UNPARSEABLE = "request unable to be parsed"
NO_TOKEN = "Required authorization token not found"
BAD_HEADER = "Authorization header format must be Bearer {token}"
ADMIN_REQUIRED = "Administrator access required"
BAD_QSH = "Invalid qsh claim in token"
BAD_SIGNATURE = "Invalid JWT token: signature is invalid (client and server secrets may not match)"
BUSY = "Server busy. Retry operation later."
MAINTENANCE = "Service disabled for maintenance"
BHV_DISABLED = (
    "Failed to allocate new block volume: Block Hosting Volume Creation is disabled. "
    "Create a Block hosting volume and try again."
)
CONFLICT = "The target exists, contains other items, or is in use."

CLUSTER_KEYS = ["id", "nodes", "volumes", "block", "file", "blockvolumes"]
NODE_KEYS = ["zone", "hostnames", "cluster", "id", "state", "devices"]
DEVICE_KEYS = ["name", "storage", "id", "state", "bricks"]
BRICK_KEYS = ["id", "path", "device", "node", "volume", "size"]
VOLUME_KEYS = ["size", "name", "durability", "glustervolumeoptions", "snapshot", "id",
               "cluster", "mount", "blockinfo", "bricks"]


# --------------------------------------------------------------------------------------------
# Reply helpers
# --------------------------------------------------------------------------------------------

def header(reply: Reply, name: str) -> str | None:
    """Header lookup ignoring case (the reply keeps the server's spelling)."""
    return {k.lower(): v for k, v in reply.headers.items()}.get(name.lower())


def assert_error(reply: Reply, status: int, text: str) -> None:
    assert (reply.status, reply.text) == (status, text + "\n")
    assert header(reply, "Content-Type") == ERROR_TYPE
    assert header(reply, "X-Content-Type-Options") == "nosniff"


def assert_error_prefix(reply: Reply, status: int, prefix: str) -> None:
    assert reply.status == status, (reply.status, reply.text)
    assert reply.text.startswith(prefix), reply.text
    assert reply.text.endswith("\n")
    assert header(reply, "Content-Type") == ERROR_TYPE
    assert header(reply, "X-Content-Type-Options") == "nosniff"


def assert_no_space(reply: Reply, prefix: str) -> None:
    """heketipy may explain a "No space" after Heketi's text: assert Heketi's part."""
    assert_error_prefix(reply, 500, prefix + "No space")


def json_body(reply: Reply, status: int = 200) -> Any:
    """Status, JSON content type and "one compact JSON value + newline"; returns the value."""
    assert reply.status == status, (reply.status, reply.text)
    assert header(reply, "Content-Type") == JSON_TYPE
    assert reply.body.endswith(b"\n") and b"\n" not in reply.body[:-1], reply.body
    return json.loads(reply.body)


def assert_empty(reply: Reply, status: int, content_type: str | None = None) -> None:
    assert (reply.status, reply.body) == (status, b""), (reply.status, reply.text)
    assert header(reply, "Content-Type") == content_type


def accepted(reply: Reply) -> str:
    """A 202 to a POST/DELETE: relative /queue Location, no body, no content type."""
    assert reply.status == 202, (reply.status, reply.text)
    location = header(reply, "Location")
    assert location is not None and re.fullmatch(r"/queue/[0-9a-f]{32}", location), location
    assert reply.body == b""
    assert header(reply, "Content-Type") is None
    return location


def assert_see_other(reply: Reply, location: str) -> None:
    assert reply.status == 303, (reply.status, reply.text)
    assert header(reply, "Location") == location
    assert header(reply, "Content-Type") == HTML_TYPE
    assert reply.text == f'<a href="{location}">See Other</a>.\n\n'


def finish(server: ServerProcess, reply: Reply) -> Reply:
    return server.wait_queue(accepted(reply))


def created(server: ServerProcess, method: str, path: str, body: Any, kind: str) -> str:
    """Run an async call whose result is a resource; return the resource id."""
    final = finish(server, server.request(method, path, body))
    assert final.status == 303, (final.status, final.text)
    location = header(final, "Location") or ""
    match = re.fullmatch(rf"/{kind}/([0-9a-f]{{32}})", location)
    assert match, location
    return match.group(1)


def done(server: ServerProcess, method: str, path: str, body: Any = None) -> None:
    """Run an async call whose result is "no resource" (204)."""
    final = finish(server, server.request(method, path, body))
    assert_empty(final, 204)


def pending(reply: Reply) -> None:
    assert reply.status == 200 and header(reply, "X-Pending") == "true", (reply.status, reply.text)
    assert reply.body == b""
    assert header(reply, "Content-Type") is None


# --------------------------------------------------------------------------------------------
# Raw HTTP and hand-made tokens
# --------------------------------------------------------------------------------------------

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:  # noqa: D102
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def send(server: ServerProcess, method: str, path: str, *, authorization: str | None,
         body: bytes | None = None) -> Reply:
    """One exchange with an exact Authorization header value (None = no header)."""
    req = urllib.request.Request(server.base_url + path, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    if authorization is not None:
        req.add_header("Authorization", authorization)
    try:
        with _OPENER.open(req, timeout=30) as resp:
            return Reply(resp.status, dict(resp.headers), resp.read())
    except urllib.error.HTTPError as err:
        return Reply(err.code, dict(err.headers), err.read())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


_DIGESTS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def forge_token(method: str, path: str, *, iss: str = "admin", key: str = ADMIN_KEY,
                alg: str = "HS256", omit: tuple[str, ...] = (), iat: int = 0, exp: int = 300,
                nbf: int | None = None, qsh_of: str | None = None,
                qsh_value: str | None = None) -> str:
    """A token built like the golden recipes: times relative to now, claims omittable,
    `qsh_of` = the exact "<METHOD>&<path>" string to hash (default: this request),
    `qsh_value` = a literal claim value."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": iss, "iat": now + iat, "exp": now + exp,
        "qsh": qsh_value or hashlib.sha256(
            (qsh_of or f"{method}&{path.split('?')[0]}").encode()).hexdigest(),
    }
    if nbf is not None:
        claims["nbf"] = now + nbf
    for name in omit:
        claims.pop(name)
    signing_input = f"{_b64(json.dumps({'alg': alg, 'typ': 'JWT'}).encode())}." \
                    f"{_b64(json.dumps(claims).encode())}"
    if alg == "none":
        signature = ""
    elif alg in _DIGESTS:
        signature = _b64(hmac.new(key.encode(), signing_input.encode(), _DIGESTS[alg]).digest())
    else:
        signature = _b64(b"garbage signature")
    return f"{signing_input}.{signature}"


def with_token(server: ServerProcess, method: str, path: str, body: bytes | None = None,
               scheme: str = "Bearer", **recipe: Any) -> Reply:
    token = forge_token(method, path, **recipe)
    return send(server, method, path, authorization=f"{scheme} {token}", body=body)


# --------------------------------------------------------------------------------------------
# Topology helpers
# --------------------------------------------------------------------------------------------

@dataclass
class Topology:
    cluster: str
    nodes: list[str]
    devices: list[str]
    storage: list[str]  # storage hostname of nodes[i]


def new_cluster(server: ServerProcess, file: bool = True, block: bool = True) -> str:
    return json_body(server.request("POST", "/clusters", {"file": file, "block": block}), 201)["id"]


def add_node(server: ServerProcess, cluster: str, manage: str, storage: str, zone: int = 1) -> str:
    return created(server, "POST", "/nodes", {
        "zone": zone, "cluster": cluster, "hostnames": {"manage": [manage], "storage": [storage]},
    }, "nodes")


def add_device(server: ServerProcess, node: str, name: str = "/dev/sdb") -> str:
    done(server, "POST", "/devices", {"node": node, "name": name})
    devices = json_body(server.request("GET", f"/nodes/{node}"))["devices"]
    return next(d["id"] for d in devices if d["name"] == name)


def build_topology(server: ServerProcess, count: int, prefix: str, net: str) -> Topology:
    cluster = new_cluster(server)
    nodes, devices, storage = [], [], []
    for i in range(1, count + 1):
        node = add_node(server, cluster, f"{prefix}{i}.example.test", f"{net}.{i}", zone=i)
        nodes.append(node)
        devices.append(add_device(server, node))
        storage.append(f"{net}.{i}")
    return Topology(cluster, nodes, devices, storage)


def create_volume(server: ServerProcess, cluster: str, size: int = 1, **fields: Any) -> str:
    body = {"size": size, "clusters": [cluster], **fields}
    return created(server, "POST", "/volumes", body, "volumes")


@contextmanager
def in_flight(server: ServerProcess, cluster: str, name: str) -> Iterator[str]:
    """A volume create kept running (slow mock) for the duration of the block."""
    location = accepted(server.request("POST", "/volumes", {
        "size": 1, "name": name, "clusters": [cluster], "durability": {"type": "none"},
    }))
    try:
        yield location
        # Everything inside the block happened while the create was still running.
        pending(server.request("GET", location))
    finally:
        server.wait_queue(location)


# --------------------------------------------------------------------------------------------
# Servers (module scope)
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The main server: mock executor, no latency."""
    with running_server(tmp_path_factory.mktemp("main"), env=MOCK_ENV) as server:
        yield server


@pytest.fixture(scope="module")
def topo(srv: ServerProcess) -> Topology:
    """Three nodes (node<i>.example.test / 10.0.0.<i>), one 500 GiB device each."""
    return build_topology(srv, 3, "node", "10.0.0")


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server nobody writes to: the empty-state answers."""
    with running_server(tmp_path_factory.mktemp("fresh"), env=MOCK_ENV) as server:
        yield server


@pytest.fixture(scope="module")
def noauth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(tmp_path_factory.mktemp("noauth"), env=MOCK_ENV,
                        args=["--disable-auth"]) as server:
        yield server


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Operations stay observably in flight (the mock sleeps per node call)."""
    with running_server(tmp_path_factory.mktemp("slow"), env=MOCK_ENV,
                        heketipy={"mock_latency_ms": SLOW_MS}) as server:
        yield server


@pytest.fixture(scope="module")
def slow_topo(slow: ServerProcess) -> Topology:
    return build_topology(slow, 1, "slow", "10.1.0")


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One operation slot and no wait queue: Heketi's plain 429 behaviour."""
    with running_server(tmp_path_factory.mktemp("busy"), env=MOCK_ENV,
                        glusterfs={"max_inflight_operations": 1},
                        heketipy={"mock_latency_ms": SLOW_MS, "wait_queue_size": 0}) as server:
        yield server


@dataclass
class BusyObjects:
    topo: Topology
    plain: str  # a plain volume
    bhv: str  # a block hosting volume
    brick: str  # a brick of the plain volume


@pytest.fixture(scope="module")
def busy_objects(busy: ServerProcess) -> BusyObjects:
    topo = build_topology(busy, 1, "busy", "10.2.0")
    bhv = create_volume(busy, topo.cluster, 10, name="bhv", block=True,
                        durability={"type": "none"})
    plain = create_volume(busy, topo.cluster, 1, name="plain", durability={"type": "none"})
    brick = json_body(busy.request("GET", f"/volumes/{plain}"))["bricks"][0]["id"]
    return BusyObjects(topo, plain, bhv, brick)


# ============================================================================================
# Transport (items 1-6)
# ============================================================================================

def test_item_01_generated_ids_are_32_lowercase_hex(
    srv: ServerProcess, topo: Topology, slow: ServerProcess, slow_topo: Topology,
) -> None:
    for object_id in [topo.cluster, *topo.nodes, *topo.devices]:
        assert HEX32.fullmatch(object_id), object_id
    reply = srv.request("POST", "/volumes", {"size": 1, "clusters": [topo.cluster]})
    queue_location = accepted(reply)
    assert HEX32.fullmatch(queue_location.rsplit("/", 1)[1])
    final = srv.wait_queue(queue_location)
    assert final.status == 303
    volume = json_body(srv.request("GET", header(final, "Location") or ""))
    assert HEX32.fullmatch(volume["id"])
    assert volume["bricks"] and all(HEX32.fullmatch(b["id"]) for b in volume["bricks"])
    # Pending-operation ids, visible while an operation runs.
    with in_flight(slow, slow_topo.cluster, "ids"):
        operations = json_body(slow.request("GET", "/operations/pending"))["pendingoperations"]
        assert operations and all(HEX32.fullmatch(op["id"]) for op in operations)
        detail = json_body(slow.request("GET", f"/operations/pending/{operations[0]['id']}"))
        assert all(HEX32.fullmatch(change["id"]) for change in detail["changes"])


def test_item_02_json_replies_are_one_value_and_newline(srv: ServerProcess, topo: Topology) -> None:
    for path in ["/clusters", f"/clusters/{topo.cluster}", f"/nodes/{topo.nodes[0]}",
                 f"/devices/{topo.devices[0]}", "/volumes", "/admin"]:
        reply = srv.request("GET", path)
        value = json_body(reply)
        # Go's compact encoding: no spaces after separators.
        assert reply.body == json.dumps(value, separators=(",", ":")).encode() + b"\n", path
    # Go escapes <, > and & inside JSON strings.
    reply = srv.request("POST", f"/nodes/{topo.nodes[0]}/tags",
                        {"change_type": "set", "tags": {"note": "<a&b>"}})
    json_body(reply)
    assert reply.body == b'{"note":"\\u003ca\\u0026b\\u003e"}\n'
    assert json_body(srv.request("POST", f"/nodes/{topo.nodes[0]}/tags",
                                 {"change_type": "set", "tags": {}})) == {}


def test_item_03_error_replies_are_plain_text_with_nosniff(
    srv: ServerProcess, topo: Topology,
) -> None:
    assert_error(srv.request("GET", f"/clusters/{'0' * 32}"), 404, NOT_FOUND)
    assert_error(srv.request("DELETE", f"/clusters/{topo.cluster}"), 409,
                 f"Unable to delete cluster [{topo.cluster}] because it contains volumes "
                 "and/or nodes")
    assert_error(srv.request("POST", "/devices", {}), 400,
                 "validation failed: name: cannot be blank; node: cannot be blank.")


def test_item_04_routing_404_405_301(srv: ServerProcess, topo: Topology) -> None:
    volume = create_volume(srv, topo.cluster)
    for method, path in [("GET", "/nope"), ("GET", "/clusters/xyz"), ("POST", "/hello"),
                         ("GET", "/topology")]:
        assert_error(srv.request(method, path), 404, BAD_PATH)
    for method, path in [("PUT", "/clusters"), ("DELETE", "/clusters"),
                         ("GET", f"/clusters/{topo.cluster}/flags"),
                         ("PATCH", f"/volumes/{volume}"), ("HEAD", "/clusters")]:
        assert_empty(srv.request(method, path), 405)
    # Trailing slash: 301 to the path without it (a GET gets Go's HTML anchor).
    reply = srv.request("GET", "/clusters/")
    assert (reply.status, header(reply, "Location")) == (301, "/clusters")
    assert header(reply, "Content-Type") == HTML_TYPE
    assert reply.text == '<a href="/clusters">Moved Permanently</a>.\n\n'
    reply = srv.request("POST", "/clusters/", {"file": True})
    assert (reply.status, header(reply, "Location")) == (301, "/clusters")
    assert_empty(reply, 301)
    reply = srv.request("GET", f"/volumes/{volume}/")
    assert (reply.status, header(reply, "Location")) == (301, f"/volumes/{volume}")
    assert reply.text == f'<a href="/volumes/{volume}">Moved Permanently</a>.\n\n'
    # Errata: routing happens after authentication and the role check.
    assert_error(srv.request("GET", "/nope", role="none"), 401, NO_TOKEN)
    assert_error(srv.request("PUT", "/clusters", role="none"), 401, NO_TOKEN)
    assert_error(srv.request("GET", "/volumes/", role="user"), 401, ADMIN_REQUIRED)
    # An uppercase id routes, then is not found (ids are stored lowercase).
    assert_error(srv.request("GET", f"/volumes/{volume.upper()}"), 404, NOT_FOUND)


def test_item_05_unparseable_bodies(srv: ServerProcess, topo: Topology) -> None:
    unknown = "0123456789abcdef0123456789abcdef"
    for raw in [b"{not json", b"", b"[]", b'{"file":true} trailing', b'{"file": "yes"}']:
        assert_error(srv.request("POST", "/clusters", raw=raw), 422, UNPARSEABLE)
    for body in [{"size": "10"}, {"size": 1.5}]:
        assert_error(srv.request("POST", "/volumes", body), 422, UNPARSEABLE)
    assert_error(srv.request("POST", "/nodes", {"zone": "1"}), 422, UNPARSEABLE)
    for path in ["/nodes", "/devices", "/volumes", "/blockvolumes",
                 "/operations/pending/cleanup"]:
        assert_error(srv.request("POST", path, raw=b""), 422, UNPARSEABLE)
        assert_error(srv.request("POST", path, raw=b"{not json"), 422, UNPARSEABLE)
    # The body is parsed before the id is looked up.
    for path in [f"/clusters/{unknown}/flags", f"/nodes/{unknown}/state",
                 f"/volumes/{unknown}/expand", f"/volumes/{unknown}/clone",
                 f"/blockvolumes/{unknown}/expand", f"/bricks/to-evict/{unknown}"]:
        assert_error(srv.request("POST", path, raw=b"{not json"), 422, UNPARSEABLE)
    assert_error(srv.request("DELETE", f"/devices/{unknown}", raw=b"{not json"), 422,
                 UNPARSEABLE)
    assert_error(srv.request("POST", f"/bricks/to-evict/{unknown}"), 404, NOT_FOUND)
    # /admin and /internal/logging answer 400 with the decoder's text.
    for path in ["/admin", "/internal/logging"]:
        assert_error(srv.request("POST", path, raw=b"{not json"), 400,
                     f"{UNPARSEABLE}: invalid character 'n' looking for beginning of object "
                     "key string")
        assert_error(srv.request("POST", path, raw=b""), 400,
                     f"{UNPARSEABLE}: unexpected end of JSON input")
    assert_error(srv.request("POST", "/admin", {"state": 1}), 400,
                 f"{UNPARSEABLE}: json: cannot unmarshal number into Go struct field "
                 "AdminStatus.state of type api.AdminState")
    # Keys match case-insensitively, unknown keys are ignored; `null` is an empty object.
    cluster = json_body(srv.request("POST", "/clusters",
                                    {"FILE": True, "Block": False, "unknown": 1}), 201)
    assert (cluster["file"], cluster["block"]) == (True, False)
    cluster_null = json_body(srv.request("POST", "/clusters", raw=b"null"), 201)
    assert (cluster_null["file"], cluster_null["block"]) == (False, False)
    volume = create_volume(srv, topo.cluster, NAME="CaseKeys",
                           Durability={"TYPE": "replicate", "Replicate": {"REPLICA": 3}})
    info = json_body(srv.request("GET", f"/volumes/{volume}"))
    assert info["name"] == "CaseKeys"
    assert info["durability"] == {"type": "replicate", "replicate": {"replica": 3},
                                  "disperse": {}}
    for cluster_id in [cluster["id"], cluster_null["id"]]:
        assert_empty(srv.request("DELETE", f"/clusters/{cluster_id}"), 200)


def test_item_06_hello(srv: ServerProcess) -> None:
    for reply in [srv.request("GET", "/hello", role="none"), srv.request("GET", "/hello"),
                  srv.request("GET", "/hello", role="user"),
                  send(srv, "GET", "/hello", authorization="Bearer garbage")]:
        assert (reply.status, reply.body) == (200, b"Hello from Heketi")
        assert header(reply, "Content-Type") == "text/plain; charset=UTF-8"


# ============================================================================================
# Auth (items 7-11)
# ============================================================================================

def test_item_07_authorization_header(srv: ServerProcess) -> None:
    for path in ["/clusters", "/volumes", f"/queue/{'a' * 32}", "/admin", "/operations",
                 "/internal/logging"]:
        assert_error(srv.request("GET", path, role="none"), 401, NO_TOKEN)
    assert_error(send(srv, "GET", "/clusters", authorization=""), 401, NO_TOKEN)
    for value in ["Bearer", "Bearer ", "Basic YWRtaW46YWRtaW4=", "Bearer a b"]:
        assert_error(send(srv, "GET", "/clusters", authorization=value), 400, BAD_HEADER)
    for scheme in ["bearer", "BEARER", "Bearer"]:
        assert json_body(with_token(srv, "GET", "/clusters", scheme=scheme)).keys() == {"clusters"}
    # /hello and /metrics need no token.
    assert srv.request("GET", "/hello", role="none").status == 200
    assert srv.request("GET", "/metrics", role="none").status == 200
    reply = send(srv, "GET", "/metrics", authorization="Bearer garbage")
    assert reply.status == 200


def test_item_08_issuer_algorithm_and_time_claims(srv: ServerProcess) -> None:
    def get(**recipe: Any) -> Reply:
        return with_token(srv, "GET", "/clusters", **recipe)

    prefix = "Invalid JWT token: "
    assert_error(get(iss="bob"), 401, prefix + "Unknown user")
    assert_error(get(omit=("iss",)), 401, prefix + "Token missing iss claim")
    assert_error(get(key="wrong-secret"), 401, BAD_SIGNATURE)
    assert_error(get(key=USER_KEY), 401, BAD_SIGNATURE)
    assert_error_prefix(get(exp=-100), 401, prefix + "Token is expired by ")
    assert_error_prefix(get(omit=("exp",)), 401, prefix + "Token is expired by ")
    assert_error(get(iat=600, exp=900), 401,
                 prefix + "Token used before issued (client and server clocks may differ)")
    assert_error(get(nbf=600), 401, prefix + "token is not valid yet")
    assert_error(get(alg="RS256"), 401, prefix + "Unexpected signing method: RS256")
    assert_error(get(alg="none"), 401, prefix + "Unexpected signing method: none")
    assert_error(send(srv, "GET", "/clusters", authorization="Bearer garbage"), 401,
                 prefix + "token contains an invalid number of segments")
    assert_error(send(srv, "GET", "/clusters", authorization="Bearer a.b.c"), 401,
                 prefix + "illegal base64 data at input byte 0")
    for recipe in [{"omit": ("iat",)}, {"iat": 60}, {"nbf": -10}, {"alg": "HS384"},
                   {"alg": "HS512"}]:
        assert get(**recipe).status == 200, recipe


def test_item_09_qsh_binds_method_and_path(srv: ServerProcess) -> None:
    assert_error(with_token(srv, "GET", "/clusters", omit=("qsh",)), 401, BAD_QSH)
    assert_error(with_token(srv, "GET", "/clusters", qsh_of="GET&/something-else"), 401, BAD_QSH)
    assert_error(with_token(srv, "GET", "/clusters", qsh_of="POST&/clusters"), 401, BAD_QSH)
    # The query string is not part of the hash.
    assert with_token(srv, "GET", "/clusters?x=1").status == 200
    assert_error(with_token(srv, "GET", "/clusters?x=1", qsh_of="GET&/clusters?x=1"), 401,
                 BAD_QSH)
    # The claim is the lowercase hex digest: the same digest in upper case is refused.
    upper = hashlib.sha256(b"GET&/clusters").hexdigest().upper()
    assert_error(with_token(srv, "GET", "/clusters", qsh_value=upper), 401, BAD_QSH)


def test_item_10_user_role_only_on_exact_volumes_path(srv: ServerProcess, topo: Topology) -> None:
    assert json_body(srv.request("GET", "/volumes", role="user")).keys() == {"volumes"}
    location = accepted(srv.request("POST", "/volumes", {
        "size": 1, "clusters": [topo.cluster], "durability": {"type": "none"},
    }, role="user"))
    assert_error(srv.request("GET", location, role="user"), 401, ADMIN_REQUIRED)
    final = srv.wait_queue(location)
    assert final.status == 303
    volume_path = header(final, "Location") or ""
    volume_id = volume_path.rsplit("/", 1)[1]
    assert volume_id in json_body(srv.request("GET", "/volumes", role="user"))["volumes"]
    for method, path in [("GET", volume_path), ("DELETE", volume_path), ("GET", "/clusters"),
                         ("GET", "/volumes/"), ("GET", "/admin"), ("POST", "/admin"),
                         ("GET", f"/queue/{'b' * 32}"), ("POST", f"{volume_path}/expand")]:
        assert_error(srv.request(method, path, {"expand_size": 1} if method == "POST" else None,
                                 role="user"), 401, ADMIN_REQUIRED)
    assert_error(with_token(srv, "GET", "/volumes", iss="user", key=ADMIN_KEY), 401,
                 BAD_SIGNATURE)


def test_item_11_disable_auth_ignores_the_header(noauth: ServerProcess) -> None:
    for authorization in [None, "Bearer garbage", "Basic abc"]:
        assert json_body(send(noauth, "GET", "/clusters", authorization=authorization)) \
            .keys() == {"clusters"}
    assert json_body(noauth.request("GET", "/clusters", role="user")).keys() == {"clusters"}
    cluster = json_body(noauth.request("POST", "/clusters", {"file": True}, role="none"), 201)
    assert (cluster["file"], cluster["block"]) == (True, False)
    assert json_body(noauth.request("GET", "/admin", role="none")) == {"state": "normal"}


# ============================================================================================
# Admin mode (items 12-13)
# ============================================================================================

def _reset_admin_state(server: ServerProcess) -> None:
    server.signal(signal.SIGUSR2)
    wait_until(lambda: json_body(server.request("GET", "/admin")) == {"state": "normal"},
               "SIGUSR2 to reset the admin state")


def test_item_12_admin_state_get_and_set(srv: ServerProcess) -> None:
    assert json_body(srv.request("GET", "/admin")) == {"state": "normal"}
    assert_error(srv.request("POST", "/admin", {}), 400,
                 "validation failed: state: cannot be blank.")
    assert_error(srv.request("POST", "/admin", {"state": "bogus"}), 400,
                 "validation failed: state: must be a valid value.")
    assert_error(srv.request("POST", "/admin", {"state": "normal"}, role="user"), 401,
                 ADMIN_REQUIRED)
    try:
        assert_empty(srv.request("POST", "/admin", {"state": "local-client"}), 204)
        assert json_body(srv.request("GET", "/admin")) == {"state": "local-client"}
        assert_empty(srv.request("POST", "/admin", {"state": "normal"}), 204)
        assert json_body(srv.request("GET", "/admin")) == {"state": "normal"}
    finally:
        _reset_admin_state(srv)


def test_item_13_read_only_and_local_client_gates(srv: ServerProcess) -> None:
    try:
        assert_empty(srv.request("POST", "/admin", {"state": "read-only"}), 204)
        assert json_body(srv.request("GET", "/admin")) == {"state": "read-only"}
        assert json_body(srv.request("GET", "/clusters")).keys() == {"clusters"}
        assert_empty(srv.request("HEAD", "/clusters"), 405)
        assert_error(srv.request("POST", "/clusters", {"file": True}), 503, MAINTENANCE)
        assert_error(srv.request("DELETE", f"/volumes/{'1' * 32}"), 503, MAINTENANCE)
        assert_error(srv.request("POST", "/clusters", raw=b"{bad"), 503, MAINTENANCE)
        assert_error(srv.request("POST", "/admin", {"state": "normal"}), 503, MAINTENANCE)
        # The gate looks only at the method: the GET-based resync passes it.
        assert_error(srv.request("GET", f"/devices/{'1' * 32}/resync"), 404, NOT_FOUND)
        assert srv.request("GET", "/hello").status == 200
        # Order: JWT, role, then the gate.
        assert_error(srv.request("POST", "/clusters", {"file": True}, role="none"), 401,
                     NO_TOKEN)
        assert_error(srv.request("POST", "/clusters", {"file": True}, role="user"), 401,
                     ADMIN_REQUIRED)
        # SIGUSR2 resets to normal.
        _reset_admin_state(srv)
        cluster = json_body(srv.request("POST", "/clusters", {"file": True}), 201)["id"]
        # local-client: mutations from 127.0.0.1 are allowed.
        assert_empty(srv.request("POST", "/admin", {"state": "local-client"}), 204)
        assert_empty(srv.request("DELETE", f"/clusters/{cluster}"), 200)
    finally:
        _reset_admin_state(srv)


# ============================================================================================
# Async protocol (items 14-16)
# ============================================================================================

def test_item_14_async_replies_202_with_relative_queue_location(
    srv: ServerProcess, topo: Topology,
) -> None:
    cluster = new_cluster(srv)
    location = accepted(srv.request("POST", "/nodes", {
        "zone": 1, "cluster": cluster,
        "hostnames": {"manage": ["async14.example.test"], "storage": ["10.14.0.1"]},
    }))
    final = srv.wait_queue(location)
    node = (header(final, "Location") or "").rsplit("/", 1)[1]
    location = accepted(srv.request("DELETE", f"/nodes/{node}"))
    assert_empty(srv.wait_queue(location), 204)
    volume = create_volume(srv, topo.cluster)
    accepted_delete = srv.request("DELETE", f"/volumes/{volume}")
    assert_empty(finish(srv, accepted_delete), 204)
    assert_empty(srv.request("DELETE", f"/clusters/{cluster}"), 200)


def test_item_15_queue_states(
    srv: ServerProcess, topo: Topology, slow: ServerProcess, slow_topo: Topology,
) -> None:
    # Running: 200 + X-Pending, no body, no content type; then 303 to the resource.
    location = accepted(slow.request("POST", "/volumes", {
        "size": 1, "clusters": [slow_topo.cluster], "durability": {"type": "none"},
    }))
    pending(slow.request("GET", location))
    final = slow.wait_queue(location)
    volume_path = header(final, "Location") or ""
    assert re.fullmatch(r"/volumes/[0-9a-f]{32}", volume_path)
    assert_see_other(final, volume_path)
    # Done without a resource: 204, empty.
    location = accepted(slow.request("DELETE", volume_path))
    pending(slow.request("GET", location))
    assert_empty(slow.wait_queue(location), 204)
    # Failed: 500 + the error text; a transition that writes nothing is final at once.
    node = topo.nodes[0]
    location = accepted(srv.request("POST", f"/nodes/{node}/state", {"state": "failed"}))
    assert_error(srv.request("GET", location), 500,
                 f"Node must be offline before remove operation is performed, node:{node}")


def test_item_16_results_are_delivered_once(srv: ServerProcess, topo: Topology) -> None:
    location = accepted(srv.request("POST", "/volumes", {"size": 1, "clusters": [topo.cluster]}))
    assert srv.wait_queue(location).status == 303
    assert_error(srv.request("GET", location), 404, NOT_FOUND)
    location = accepted(srv.request("POST", f"/devices/{topo.devices[0]}/state",
                                    {"state": "online"}))
    assert_empty(srv.wait_queue(location), 204)
    assert_error(srv.request("GET", location), 404, NOT_FOUND)
    location = accepted(srv.request("POST", f"/devices/{topo.devices[0]}/state",
                                    {"state": "failed"}))
    assert srv.wait_queue(location).status == 500
    assert_error(srv.request("GET", location), 404, NOT_FOUND)
    assert_error(srv.request("GET", f"/queue/{'c' * 32}"), 404, NOT_FOUND)


# ============================================================================================
# Throttling (item 17; heketipy adds a bounded wait queue)
# ============================================================================================

def assert_busy(reply: Reply) -> None:
    assert_error(reply, 429, BUSY)
    retry_after = header(reply, "Retry-After")
    assert retry_after is not None and retry_after.isdigit() and int(retry_after) >= 1, retry_after


def test_item_17_throttled_operations_get_429(busy: ServerProcess,
                                              busy_objects: BusyObjects) -> None:
    objects = busy_objects
    node, device = objects.topo.nodes[0], objects.topo.devices[0]
    with in_flight(busy, objects.topo.cluster, "inflight"):
        assert_busy(busy.request("POST", "/volumes",
                                 {"size": 1, "clusters": [objects.topo.cluster]}))
        assert_busy(busy.request("DELETE", f"/volumes/{objects.plain}"))
        assert_busy(busy.request("POST", f"/volumes/{objects.bhv}/expand", {"expand_size": 1}))
        # Errata: cloning a BHV is refused later; the throttle answers first.
        assert_busy(busy.request("POST", f"/volumes/{objects.bhv}/clone", {"name": "c"}))
        assert_busy(busy.request("POST", f"/volumes/{objects.bhv}/block-restriction",
                                 {"restriction": "locked"}))
        assert_busy(busy.request("POST", f"/bricks/to-evict/{objects.brick}", {}))
        assert_busy(busy.request("POST", f"/nodes/{node}/state", {"state": "failed"}))
        assert_busy(busy.request("POST", f"/devices/{device}/state", {"state": "failed"}))
        # Lookups answer before the throttle.
        assert_error(busy.request("DELETE", f"/volumes/{'d' * 32}"), 404, NOT_FOUND)
        # Never throttled: cluster create, tags.
        cluster = json_body(busy.request("POST", "/clusters", {"file": True}), 201)["id"]
        assert json_body(busy.request("POST", f"/nodes/{node}/tags",
                                      {"change_type": "set", "tags": {"a": "b"}})) == {"a": "b"}
    # Accepted again once the slot is free.
    assert created(busy, "POST", f"/volumes/{objects.bhv}/expand", {"expand_size": 1},
                   "volumes") == objects.bhv
    assert json_body(busy.request("GET", f"/volumes/{objects.bhv}"))["size"] == 11
    assert_empty(busy.request("DELETE", f"/clusters/{cluster}"), 200)


def test_item_17_throttled_block_operations_get_429(busy: ServerProcess,
                                                    busy_objects: BusyObjects) -> None:
    objects = busy_objects
    block_volume = created(busy, "POST", "/blockvolumes", {"size": 1}, "blockvolumes")
    with in_flight(busy, objects.topo.cluster, "inflight-block"):
        # Guards answer before the throttle.
        assert_error(busy.request("DELETE", f"/volumes/{objects.bhv}"), 409,
                     "Cannot delete a block hosting volume containing block volumes")
        assert_error(busy.request("DELETE", f"/blockvolumes/{'e' * 32}"), 404, NOT_FOUND)
        assert_busy(busy.request("POST", "/blockvolumes", {"size": 1}))
        assert_busy(busy.request("DELETE", f"/blockvolumes/{block_volume}"))
        assert_busy(busy.request("POST", f"/blockvolumes/{block_volume}/expand",
                                 {"new_size": 2}))
    done(busy, "DELETE", f"/blockvolumes/{block_volume}")


@pytest.mark.slow
def test_item_17_heketipy_wait_queue_accepts_then_429(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """heketipy: beyond max_inflight_operations requests wait in a FIFO of wait_queue_size;
    they are accepted (202) and complete; 429 + Retry-After only when that queue is full."""
    with running_server(tmp_path_factory.mktemp("queued"), env=MOCK_ENV,
                        glusterfs={"max_inflight_operations": 1},
                        heketipy={"mock_latency_ms": SLOW_MS, "wait_queue_size": 2}) as server:
        topo = build_topology(server, 1, "queued", "10.3.0")
        locations = [
            accepted(server.request("POST", "/volumes", {
                "size": 1, "name": f"q{i}", "clusters": [topo.cluster],
                "durability": {"type": "none"},
            }))
            for i in range(3)
        ]
        assert_busy(server.request("POST", "/volumes", {"size": 1, "clusters": [topo.cluster]}))
        pending(server.request("GET", locations[0]))
        names = []
        for location in locations:
            final = server.wait_queue(location)
            assert final.status == 303, (final.status, final.text)
            names.append(json_body(server.request("GET", header(final, "Location") or ""))["name"])
        assert names == ["q0", "q1", "q2"]
        # The queue drained: accepted again.
        create_volume(server, topo.cluster, durability={"type": "none"})


@pytest.mark.slow
def test_item_17_block_create_while_auto_created_bhv_is_pending(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with running_server(tmp_path_factory.mktemp("autobhv"), env=MOCK_ENV,
                        glusterfs={"auto_create_block_hosting_volume": True,
                                   "block_hosting_volume_size": 20},
                        heketipy={"mock_latency_ms": SLOW_MS}) as server:
        topo = build_topology(server, 3, "auto", "10.4.0")
        location = accepted(server.request("POST", "/blockvolumes",
                                           {"size": 1, "clusters": [topo.cluster]}))
        assert_busy(server.request("POST", "/blockvolumes",
                                   {"size": 1, "clusters": [topo.cluster]}))
        pending(server.request("GET", location))
        final = server.wait_queue(location)
        assert final.status == 303, (final.status, final.text)


# ============================================================================================
# Clusters (items 18-22)
# ============================================================================================

def test_item_18_create_cluster(srv: ServerProcess) -> None:
    made = []
    for body, flags in [({"file": True, "block": True}, (True, True)), ({}, (False, False)),
                        ({"file": True}, (True, False)), ({"block": True}, (False, True))]:
        reply = srv.request("POST", "/clusters", body)
        cluster = json_body(reply, 201)
        assert list(cluster) == CLUSTER_KEYS
        assert cluster == {"id": cluster["id"], "nodes": [], "volumes": [],
                           "block": flags[1], "file": flags[0], "blockvolumes": []}
        made.append(cluster["id"])
    assert_error(srv.request("POST", "/clusters", raw=b""), 422, UNPARSEABLE)
    null_cluster = json_body(srv.request("POST", "/clusters", raw=b"null"), 201)
    assert (null_cluster["file"], null_cluster["block"]) == (False, False)
    for cluster_id in [*made, null_cluster["id"]]:
        assert_empty(srv.request("DELETE", f"/clusters/{cluster_id}"), 200)


def test_item_19_list_clusters_sorted(srv: ServerProcess, topo: Topology,
                                      fresh: ServerProcess) -> None:
    assert json_body(fresh.request("GET", "/clusters")) == {"clusters": []}
    made = [new_cluster(srv) for _ in range(3)]
    listed = json_body(srv.request("GET", "/clusters"))["clusters"]
    assert listed == sorted(listed)
    assert set(made) | {topo.cluster} <= set(listed)
    for cluster_id in made:
        assert_empty(srv.request("DELETE", f"/clusters/{cluster_id}"), 200)


def test_item_20_cluster_info(srv: ServerProcess, topo: Topology, slow: ServerProcess,
                              slow_topo: Topology) -> None:
    empty = new_cluster(srv, file=False, block=True)
    assert json_body(srv.request("GET", f"/clusters/{empty}")) == {
        "id": empty, "nodes": [], "volumes": [], "block": True, "file": False,
        "blockvolumes": []}
    info = json_body(srv.request("GET", f"/clusters/{topo.cluster}"))
    assert list(info) == CLUSTER_KEYS
    assert info["nodes"] == sorted(topo.nodes)
    assert info["volumes"] == sorted(info["volumes"])
    assert_error(srv.request("GET", f"/clusters/{'f' * 32}"), 404, NOT_FOUND)
    assert_error(srv.request("GET", f"/clusters/{topo.cluster.upper()}"), 404, NOT_FOUND)
    assert_empty(srv.request("DELETE", f"/clusters/{empty}"), 200)
    # Pending volumes are hidden.
    with in_flight(slow, slow_topo.cluster, "hidden20"):
        listed = json_body(slow.request("GET", f"/clusters/{slow_topo.cluster}"))["volumes"]
        names = {json_body(slow.request("GET", f"/volumes/{v}"))["name"] for v in listed}
        assert "hidden20" not in names


def test_item_21_delete_cluster(srv: ServerProcess, topo: Topology) -> None:
    cluster = new_cluster(srv)
    assert_empty(srv.request("DELETE", f"/clusters/{cluster}"), 200)
    assert_error(srv.request("GET", f"/clusters/{cluster}"), 404, NOT_FOUND)
    assert_error(srv.request("DELETE", f"/clusters/{cluster}"), 404, NOT_FOUND)
    assert_error(srv.request("DELETE", f"/clusters/{topo.cluster}"), 409,
                 f"Unable to delete cluster [{topo.cluster}] because it contains volumes "
                 "and/or nodes")


def test_item_22_cluster_flags_overwrite_both(srv: ServerProcess) -> None:
    cluster = new_cluster(srv, file=False, block=False)

    def flags() -> tuple[bool, bool]:
        info = json_body(srv.request("GET", f"/clusters/{cluster}"))
        return info["file"], info["block"]

    for body, expected in [({"file": True}, (True, False)),
                           ({"block": True, "file": True}, (True, True)),
                           ({"block": True}, (False, True)), ({}, (False, False))]:
        assert_empty(srv.request("POST", f"/clusters/{cluster}/flags", body), 200, JSON_TYPE)
        assert flags() == expected, body
    assert_error(srv.request("POST", f"/clusters/{cluster}/flags", raw=b""), 422, UNPARSEABLE)
    assert_error(srv.request("POST", f"/clusters/{cluster}/flags", {"file": 1}), 422,
                 UNPARSEABLE)
    assert_error(srv.request("POST", f"/clusters/{'9' * 32}/flags", {"file": True}), 404,
                 NOT_FOUND)
    assert_empty(srv.request("DELETE", f"/clusters/{cluster}"), 200)


# ============================================================================================
# Nodes (items 23-26)
# ============================================================================================

def test_item_23_add_node(srv: ServerProcess) -> None:
    cluster = new_cluster(srv)
    good = {"manage": ["m1"], "storage": ["10.0.0.1"]}
    for body, text in [
        ({}, "cluster: cannot be blank; hostnames: (manage: cannot be blank; storage: cannot "
             "be blank.); zone: cannot be blank."),
        ({"zone": 1, "hostnames": good, "cluster": "abc"}, "cluster: abc is not a valid UUID."),
        ({"zone": 0, "hostnames": good, "cluster": cluster}, "zone: cannot be blank."),
        ({"zone": -1, "hostnames": good, "cluster": cluster}, "zone: must be no less than 1."),
        ({"zone": 1, "hostnames": {"manage": ["m1"]}, "cluster": cluster},
         "hostnames: (storage: cannot be blank.)."),
        ({"zone": 1, "hostnames": {"manage": [""], "storage": ["10.0.0.1"]}, "cluster": cluster},
         "hostnames: (manage: [] is not a valid manage hostname.)."),
        ({"zone": 1, "hostnames": {"manage": ["m1", "bad host"],
                                   "storage": ["10.0.0.99", "not valid!"]}, "cluster": cluster},
         "hostnames: (manage: [m1 bad host] is not a valid manage hostname; storage: "
         "[10.0.0.99 not valid!] is not a valid storage hostname.)."),
        ({"zone": 1, "hostnames": good, "cluster": cluster, "tags": {"bad name": "x"}},
         "tags: invalid characters in tag name bad name."),
        ({"zone": 2, "hostnames": {"manage": [], "storage": []}, "cluster": "x"},
         "cluster: x is not a valid UUID; hostnames: (manage: cannot be blank; storage: "
         "cannot be blank.)."),
    ]:
        assert_error(srv.request("POST", "/nodes", body), 400, "validation failed: " + text)
    assert_error(srv.request("POST", "/nodes", {"zone": 1, "hostnames": good, "cluster": "a" * 32}),
                 404, "Cluster id does not exist")
    node = add_node(srv, cluster, "conflict23.example.test", "10.23.0.1")
    for manage, storage, named in [
        ("conflict23.example.test", "10.23.0.1", "conflict23.example.test"),
        ("conflict23.example.test", "10.23.0.9", "conflict23.example.test"),
        ("other23.example.test", "10.23.0.1", "10.23.0.1"),
    ]:
        assert_error(srv.request("POST", "/nodes", {
            "zone": 9, "cluster": cluster, "hostnames": {"manage": [manage], "storage": [storage]},
        }), 409, f"Hostname {named} already used by node with id {node}\n")
    # Errata: a failed node still owns its hostnames.
    done(srv, "POST", f"/nodes/{node}/state", {"state": "offline"})
    done(srv, "POST", f"/nodes/{node}/state", {"state": "failed"})
    assert_error(srv.request("POST", "/nodes", {
        "zone": 1, "cluster": cluster,
        "hostnames": {"manage": ["conflict23.example.test"], "storage": ["10.23.0.1"]},
    }), 409, f"Hostname conflict23.example.test already used by node with id {node}\n")
    done(srv, "DELETE", f"/nodes/{node}")
    assert_empty(srv.request("DELETE", f"/clusters/{cluster}"), 200)


def test_item_24_node_info(srv: ServerProcess, topo: Topology) -> None:
    node = json_body(srv.request("GET", f"/nodes/{topo.nodes[1]}"))
    assert list(node) == NODE_KEYS
    assert node["zone"] == 2
    assert node["hostnames"] == {"manage": ["node2.example.test"], "storage": ["10.0.0.2"]}
    assert (node["cluster"], node["id"], node["state"]) == (topo.cluster, topo.nodes[1], "online")
    [device] = node["devices"]
    assert list(device) == DEVICE_KEYS
    assert (device["name"], device["id"]) == ("/dev/sdb", topo.devices[1])
    assert list(device["storage"]) == ["total", "free", "used"]
    assert device["storage"]["total"] == DEVICE_KIB
    assert device["storage"]["free"] + device["storage"]["used"] == DEVICE_KIB
    for brick in device["bricks"]:
        assert list(brick) == BRICK_KEYS
        assert brick["path"] == \
            f"/var/lib/heketi/mounts/vg_{device['id']}/brick_{brick['id']}/brick"
    assert_error(srv.request("GET", f"/nodes/{'7' * 32}"), 404, NOT_FOUND)


def test_item_25_delete_node(srv: ServerProcess, topo: Topology) -> None:
    assert_error(srv.request("DELETE", f"/nodes/{topo.nodes[0]}"), 409,
                 f"Unable to delete node [{topo.nodes[0]}] because it contains devices")
    cluster = new_cluster(srv)
    node = add_node(srv, cluster, "del25.example.test", "10.25.0.1")
    done(srv, "DELETE", f"/nodes/{node}")
    assert_error(srv.request("GET", f"/nodes/{node}"), 404, NOT_FOUND)
    assert json_body(srv.request("GET", f"/clusters/{cluster}"))["nodes"] == []
    assert_empty(srv.request("DELETE", f"/clusters/{cluster}"), 200)


def test_item_26_node_state_and_tags(srv: ServerProcess) -> None:
    cluster = new_cluster(srv)
    node = add_node(srv, cluster, "state26.example.test", "10.26.0.1")
    device = add_device(srv, node)
    for body, text in [({}, "state: cannot be blank."),
                       ({"state": "broken"}, "state: broken is not valid state."),
                       ({"state": "offline", "healcheck": "maybe"},
                        "healcheck: maybe is not valid heal info check.")]:
        assert_error(srv.request("POST", f"/nodes/{node}/state", body), 400,
                     "validation failed: " + text)

    def state() -> str:
        return json_body(srv.request("GET", f"/nodes/{node}"))["state"]

    final = finish(srv, srv.request("POST", f"/nodes/{node}/state", {"state": "failed"}))
    assert_error(final, 500,
                 f"Node must be offline before remove operation is performed, node:{node}")
    done(srv, "POST", f"/nodes/{node}/state", {"state": "online"})
    done(srv, "POST", f"/nodes/{node}/state", {"state": "offline"})
    assert state() == "offline"
    done(srv, "POST", f"/nodes/{node}/state", {"state": "online", "healcheck": "disable"})
    assert state() == "online"
    done(srv, "POST", f"/nodes/{node}/state", {"state": "offline"})
    done(srv, "POST", f"/nodes/{node}/state", {"state": "failed"})
    info = json_body(srv.request("GET", f"/nodes/{node}"))
    assert (info["state"], info["devices"][0]["state"]) == ("failed", "failed")
    for target in ["online", "offline"]:
        final = finish(srv, srv.request("POST", f"/nodes/{node}/state", {"state": target}))
        assert_error(final, 500, f"Cannot move a failed/removed node to {target} state")
    # Tags: the reply is the resulting map.
    tags = f"/nodes/{node}/tags"
    assert json_body(srv.request("POST", tags, {"change_type": "set",
                                                "tags": {"rack": "r1", "x": "1"}})) \
        == {"rack": "r1", "x": "1"}
    assert json_body(srv.request("POST", tags, {"change_type": "update",
                                                "tags": {"zone": "z"}})) \
        == {"rack": "r1", "x": "1", "zone": "z"}
    assert json_body(srv.request("POST", tags, {"change_type": "delete",
                                                "tags": {"x": "", "zone": ""}})) == {"rack": "r1"}
    assert json_body(srv.request("POST", tags, {"change_type": "set", "tags": {}})) == {}
    assert "tags" not in json_body(srv.request("GET", f"/nodes/{node}"))
    assert_error(srv.request("POST", tags, {"change_type": "nope", "tags": {}}), 400,
                 "validation failed: change_type: must be a valid value.")
    done(srv, "DELETE", f"/devices/{device}")
    done(srv, "DELETE", f"/nodes/{node}")
    assert_empty(srv.request("DELETE", f"/clusters/{cluster}"), 200)


# ============================================================================================
# Devices (items 27-29)
# ============================================================================================

def test_item_27_add_device(srv: ServerProcess) -> None:
    assert_error(srv.request("POST", "/devices", {"node": "a" * 32, "name": "/dev/sdb"}), 404,
                 "Node id does not exist")
    for body, text in [({}, "name: cannot be blank; node: cannot be blank."),
                       ({"node": "xyz", "name": "/dev/sdb"}, "node: xyz is not a valid UUID."),
                       ({"node": "a" * 32, "name": "sdb"}, "name: must be in a valid format.")]:
        assert_error(srv.request("POST", "/devices", body), 400, "validation failed: " + text)
    cluster = new_cluster(srv)
    node = add_node(srv, cluster, "dev27.example.test", "10.27.0.1")
    location = accepted(srv.request("POST", "/devices", {"node": node, "name": "/dev/sdb",
                                                         "tags": {"ssd": "true"},
                                                         "destroydata": True}))
    assert_empty(srv.wait_queue(location), 204)
    [device] = json_body(srv.request("GET", f"/nodes/{node}"))["devices"]
    assert device == {"name": "/dev/sdb", "tags": {"ssd": "true"},
                      "storage": {"total": DEVICE_KIB, "free": DEVICE_KIB, "used": 0},
                      "id": device["id"], "state": "online", "bricks": []}
    assert list(device) == ["name", "tags", "storage", "id", "state", "bricks"]
    done(srv, "POST", f"/devices/{device['id']}/state", {"state": "offline"})
    done(srv, "POST", f"/devices/{device['id']}/state", {"state": "failed"})
    done(srv, "DELETE", f"/devices/{device['id']}")
    done(srv, "DELETE", f"/nodes/{node}")
    assert_empty(srv.request("DELETE", f"/clusters/{cluster}"), 200)


def test_item_28_delete_device(srv: ServerProcess, topo: Topology) -> None:
    cluster = new_cluster(srv)
    node = add_node(srv, cluster, "dev28.example.test", "10.28.0.1")
    device = add_device(srv, node)
    not_failed = f"device: {device} is not in failed state"
    assert_error(srv.request("DELETE", f"/devices/{device}"), 400, not_failed)
    # Errata: forceforget does not bypass the state check.
    assert_error(srv.request("DELETE", f"/devices/{device}", {"forceforget": True}), 400,
                 not_failed)
    done(srv, "POST", f"/devices/{device}/state", {"state": "offline"})
    assert_error(srv.request("DELETE", f"/devices/{device}"), 400, not_failed)
    done(srv, "POST", f"/devices/{device}/state", {"state": "failed"})
    assert_error(srv.request("DELETE", f"/devices/{device}", {"forceforget": "yes"}), 422,
                 UNPARSEABLE)
    done(srv, "DELETE", f"/devices/{device}", {"forceforget": True})
    assert_error(srv.request("GET", f"/devices/{device}"), 404, NOT_FOUND)
    assert_error(srv.request("DELETE", f"/devices/{device}"), 404, NOT_FOUND)
    # A device holding bricks is refused too (it is online, hence not failed).
    assert_error(srv.request("DELETE", f"/devices/{topo.devices[0]}"), 400,
                 f"device: {topo.devices[0]} is not in failed state")
    done(srv, "DELETE", f"/nodes/{node}")
    assert_empty(srv.request("DELETE", f"/clusters/{cluster}"), 200)


def test_item_29_device_state_resync_tags(srv: ServerProcess) -> None:
    cluster = new_cluster(srv)
    node = add_node(srv, cluster, "dev29.example.test", "10.29.0.1")
    device = add_device(srv, node)

    def state() -> str:
        return json_body(srv.request("GET", f"/devices/{device}"))["state"]

    final = finish(srv, srv.request("POST", f"/devices/{device}/state", {"state": "failed"}))
    assert_error(final, 500, "Device must be offline before remove operation is performed, "
                             f"device:{device}")
    done(srv, "POST", f"/devices/{device}/state", {"state": "offline"})
    assert state() == "offline"
    done(srv, "POST", f"/devices/{device}/state", {"state": "online"})
    assert state() == "online"
    for body, text in [({"state": ""}, "state: cannot be blank."),
                       ({"state": "removed"}, "state: removed is not valid state."),
                       ({"state": "offline", "healcheck": "on"},
                        "healcheck: on is not valid heal info check.")]:
        assert_error(srv.request("POST", f"/devices/{device}/state", body), 400,
                     "validation failed: " + text)
    # Resync is a GET answered 202 (Go adds an HTML anchor to a redirect answering a GET).
    reply = srv.request("GET", f"/devices/{device}/resync")
    assert reply.status == 202
    location = header(reply, "Location") or ""
    assert re.fullmatch(r"/queue/[0-9a-f]{32}", location)
    assert header(reply, "Content-Type") == HTML_TYPE
    assert reply.text == f'<a href="{location}">Accepted</a>.\n\n'
    assert_empty(srv.wait_queue(location), 204)
    tags = f"/devices/{device}/tags"
    assert json_body(srv.request("POST", tags, {"change_type": "set", "tags": {"ssd": "true"}})) \
        == {"ssd": "true"}
    assert json_body(srv.request("POST", tags, {"change_type": "update",
                                                "tags": {"speed": "fast"}})) \
        == {"speed": "fast", "ssd": "true"}
    assert json_body(srv.request("POST", tags, {"change_type": "delete",
                                                "tags": {"ssd": ""}})) == {"speed": "fast"}
    assert json_body(srv.request("POST", tags, {"change_type": "set", "tags": {}})) == {}
    assert "tags" not in json_body(srv.request("GET", f"/devices/{device}"))
    done(srv, "POST", f"/devices/{device}/state", {"state": "offline"})
    done(srv, "POST", f"/devices/{device}/state", {"state": "failed"})
    done(srv, "DELETE", f"/devices/{device}")
    done(srv, "DELETE", f"/nodes/{node}")
    assert_empty(srv.request("DELETE", f"/clusters/{cluster}"), 200)


# ============================================================================================
# Volumes (items 30-37)
# ============================================================================================

def test_item_30_create_volume(srv: ServerProcess, topo: Topology) -> None:
    location = accepted(srv.request("POST", "/volumes", {
        "size": 2, "clusters": [topo.cluster],
        "durability": {"type": "replicate", "replicate": {"replica": 3}},
    }))
    final = srv.wait_queue(location)
    volume_path = header(final, "Location") or ""
    assert re.fullmatch(r"/volumes/[0-9a-f]{32}", volume_path)
    assert_see_other(final, volume_path)
    volume = json_body(srv.request("GET", volume_path))
    assert list(volume) == VOLUME_KEYS
    assert volume["size"] == 2
    assert volume["durability"] == {"type": "replicate", "replicate": {"replica": 3},
                                    "disperse": {}}
    assert volume["glustervolumeoptions"] == ["", ""]
    assert volume["snapshot"] == {"enable": False, "factor": 1}
    assert (volume["id"], volume["cluster"]) == (volume_path.rsplit("/", 1)[1], topo.cluster)
    assert volume["blockinfo"] == {}
    assert len(volume["bricks"]) == 3
    assert {b["node"] for b in volume["bricks"]} == set(topo.nodes)
    for brick in volume["bricks"]:
        assert list(brick) == BRICK_KEYS
        assert (brick["volume"], brick["size"]) == (volume["id"], 2 * 1024 * 1024)


def test_item_31_volume_validation_and_allocation_errors(
    srv: ServerProcess, topo: Topology,
) -> None:
    unknown = "0123456789abcdef0123456789abcdef"
    for body, text in [
        ({}, "validation failed: size: cannot be blank."),
        ({"size": 0}, "validation failed: size: cannot be blank."),
        ({"size": -1}, "validation failed: size: must be no less than 1."),
        ({"size": 1, "name": "bad name"}, "validation failed: name: must be in a valid format."),
        ({"size": 1, "gid": -1}, "Bad group id less than zero"),
        ({"size": 1, "gid": 2147483647}, "Bad group id equal or greater than 2**32"),
        ({"size": 1, "durability": {"type": "mirror"}}, "Unknown durability type"),
        ({"size": 1, "snapshot": {"enable": True}}, "Invalid snapshot factor"),
        ({"size": 1, "snapshot": {"enable": True, "factor": 101}}, "Invalid snapshot factor"),
        ({"size": 1, "durability": {"type": "replicate", "replicate": {"replica": 4}}},
         "Invalid replica value"),
        ({"size": 1, "durability": {"type": "disperse"}}, "Invalid dispersion combination: 0+0"),
        ({"size": 1, "durability": {"type": "disperse", "disperse": {"data": 3, "redundancy": 1}}},
         "Invalid dispersion combination: 3+1"),
        ({"size": 1, "clusters": [unknown]}, f"Cluster id {unknown} not found"),
        ({"size": 1, "clusters": ["not-an-id"]}, "Cluster id not-an-id not found"),
        ({"size": 1, "clusters": [topo.cluster],
          "durability": {"type": "disperse", "disperse": {"data": 4, "redundancy": 2}}},
         "Requested volume size (1 GB) is smaller than the minimum supported volume size "
         "(4194304)"),
        ({"size": 0, "name": "bad name", "gid": -1, "durability": {"type": "mirror"}},
         "validation failed: name: must be in a valid format; size: cannot be blank."),
        ({"size": 1, "gid": -1, "durability": {"type": "mirror"}}, "Bad group id less than zero"),
    ]:
        assert_error(srv.request("POST", "/volumes", body), 400, text)
    assert_no_space(srv.request("POST", "/volumes", {
        "size": 100000, "clusters": [topo.cluster],
        "durability": {"type": "replicate", "replicate": {"replica": 3}},
    }), "Failed to allocate new volume: ")
    create_volume(srv, topo.cluster, name="taken31")
    # Another size: the same request again is a retry, answered with the volume (README).
    assert_error(srv.request("POST", "/volumes", {"size": 2, "name": "taken31",
                                                  "clusters": [topo.cluster]}), 500,
                 "Failed to allocate new volume: Volume name 'taken31' already in use")
    file_off = new_cluster(srv, file=False, block=True)
    assert_error(srv.request("POST", "/volumes", {"size": 1, "clusters": [file_off]}), 500,
                 "Failed to allocate new volume: Cluster does not support requested volume type")
    assert_empty(srv.request("DELETE", f"/clusters/{file_off}"), 200)


def test_item_32_default_name_and_durability_echo(srv: ServerProcess, topo: Topology) -> None:
    none = {"type": "none", "replicate": {}, "disperse": {}}
    for fields, durability, bricks in [
        ({}, none, 1),
        ({"durability": {"type": ""}}, none, 1),
        ({"durability": {"type": "replicate"}},
         {"type": "replicate", "replicate": {}, "disperse": {}}, 2),
        ({"durability": {"type": "replicate", "replicate": {"replica": 3},
                         "disperse": {"data": 4, "redundancy": 2}}},
         {"type": "replicate", "replicate": {"replica": 3},
          "disperse": {"data": 4, "redundancy": 2}}, 3),
    ]:
        volume_id = create_volume(srv, topo.cluster, **fields)
        volume = json_body(srv.request("GET", f"/volumes/{volume_id}"))
        assert volume["name"] == f"vol_{volume_id}"
        assert volume["durability"] == durability, fields
        assert len(volume["bricks"]) == bricks, fields


def test_item_33_mount_data(srv: ServerProcess, topo: Topology) -> None:
    volume_id = create_volume(srv, topo.cluster, name="mount33",
                              durability={"type": "replicate", "replicate": {"replica": 2}})
    volume = json_body(srv.request("GET", f"/volumes/{volume_id}"))
    by_id = sorted(zip(topo.nodes, topo.storage, strict=True))
    hosts = [storage for _, storage in by_id]
    assert volume["mount"] == {"glusterfs": {
        "hosts": hosts, "device": f"{hosts[0]}:mount33",
        "options": {"backup-volfile-servers": ",".join(hosts[1:])},
    }}


def test_item_34_pending_volumes_are_hidden(slow: ServerProcess, slow_topo: Topology) -> None:
    with in_flight(slow, slow_topo.cluster, "hidden34"):
        [operation] = json_body(slow.request("GET", "/operations/pending"))["pendingoperations"]
        detail = json_body(slow.request("GET", f"/operations/pending/{operation['id']}"))
        changes = detail["changes"]
        [volume_id] = [c["id"] for c in changes if c["description"] == "Add volume"]
        assert volume_id not in json_body(slow.request("GET", "/volumes"))["volumes"]
        assert_error(slow.request("GET", f"/volumes/{volume_id}"), 404, NOT_FOUND)
        assert volume_id not in json_body(
            slow.request("GET", f"/clusters/{slow_topo.cluster}"))["volumes"]
    # Once the create has finished the volume is visible.
    assert volume_id in json_body(slow.request("GET", "/volumes"))["volumes"]
    assert json_body(slow.request("GET", f"/volumes/{volume_id}"))["name"] == "hidden34"


def test_item_35_delete_volume(srv: ServerProcess, topo: Topology, slow: ServerProcess,
                               slow_topo: Topology) -> None:
    assert_error(srv.request("DELETE", f"/volumes/{'3' * 32}"), 404, NOT_FOUND)
    db_volume = create_volume(srv, topo.cluster, 2, name="heketidbstorage",
                              durability={"type": "replicate", "replicate": {"replica": 3}})
    assert_error(srv.request("DELETE", f"/volumes/{db_volume}"), 409,
                 "Cannot delete volume containing the Heketi database")
    volume_id = create_volume(srv, topo.cluster)
    location = accepted(srv.request("DELETE", f"/volumes/{volume_id}"))
    assert_empty(srv.wait_queue(location), 204)
    assert_error(srv.request("GET", f"/volumes/{volume_id}"), 404, NOT_FOUND)
    assert_error(srv.request("DELETE", f"/volumes/{volume_id}"), 404, NOT_FOUND)
    # A delete already pending: the conflict text, as a 500.
    slow_volume = create_volume(slow, slow_topo.cluster, durability={"type": "none"})
    location = accepted(slow.request("DELETE", f"/volumes/{slow_volume}"))
    assert_error(slow.request("DELETE", f"/volumes/{slow_volume}"), 500,
                 f"Failed to set up volume delete: {CONFLICT}")
    # A volume being deleted is hidden as well.
    assert_error(slow.request("GET", f"/volumes/{slow_volume}"), 404, NOT_FOUND)
    assert slow_volume not in json_body(slow.request("GET", "/volumes"))["volumes"]
    pending(slow.request("GET", location))
    assert_empty(slow.wait_queue(location), 204)


def test_item_35_delete_block_hosting_volume_with_block_volumes(
    srv: ServerProcess, topo: Topology,
) -> None:
    cluster = topo.cluster
    bhv = create_volume(srv, cluster, 5, name="bhv35", block=True,
                        durability={"type": "replicate", "replicate": {"replica": 3}})
    block_volume = created(srv, "POST", "/blockvolumes", {"size": 1, "clusters": [cluster]},
                           "blockvolumes")
    assert_error(srv.request("DELETE", f"/volumes/{bhv}"), 409,
                 "Cannot delete a block hosting volume containing block volumes")
    done(srv, "DELETE", f"/blockvolumes/{block_volume}")
    done(srv, "DELETE", f"/volumes/{bhv}")


def test_item_36_expand_volume(srv: ServerProcess, topo: Topology) -> None:
    volume_id = create_volume(srv, topo.cluster, 2,
                              durability={"type": "replicate", "replicate": {"replica": 3}})
    location = accepted(srv.request("POST", f"/volumes/{volume_id}/expand", {"expand_size": 3}))
    assert_see_other(srv.wait_queue(location), f"/volumes/{volume_id}")
    volume = json_body(srv.request("GET", f"/volumes/{volume_id}"))
    assert volume["size"] == 5
    assert sum(b["size"] for b in volume["bricks"]) == 3 * 5 * 1024 * 1024
    for body, text in [({"expand_size": 0}, "expand_size: cannot be blank."), ({},
                       "expand_size: cannot be blank."),
                       ({"expand_size": -2}, "expand_size: must be no less than 1.")]:
        assert_error(srv.request("POST", f"/volumes/{volume_id}/expand", body), 400,
                     "validation failed: " + text)
    assert_error(srv.request("POST", f"/volumes/{'4' * 32}/expand", {"expand_size": 1}), 404,
                 NOT_FOUND)


def test_item_37_clone_volume(srv: ServerProcess, topo: Topology) -> None:
    source = create_volume(srv, topo.cluster, 2, snapshot={"enable": True, "factor": 1.5},
                           durability={"type": "replicate", "replicate": {"replica": 3}})
    assert_error(srv.request("POST", f"/volumes/{source}/clone", {"name": "bad name"}), 400,
                 "validation failed: name: must be in a valid format.")
    location = accepted(srv.request("POST", f"/volumes/{source}/clone", {"name": "myclone"}))
    final = srv.wait_queue(location)
    clone_path = header(final, "Location") or ""
    assert_see_other(final, clone_path)
    clone_id = clone_path.rsplit("/", 1)[1]
    assert HEX32.fullmatch(clone_id) and clone_id != source
    clone = json_body(srv.request("GET", clone_path))
    assert (clone["name"], clone["size"], clone["cluster"]) == ("myclone", 2, topo.cluster)
    assert json_body(srv.request("GET", f"/volumes/{source}"))["id"] == source


def test_item_37_block_restriction(srv: ServerProcess, topo: Topology) -> None:
    plain = create_volume(srv, topo.cluster)
    assert_error(srv.request("POST", f"/volumes/{plain}/block-restriction",
                             {"restriction": "locked"}), 500,
                 "Failed to set block restriction: Block restrictions can only be set on block "
                 "hosting volumes")
    assert_error(srv.request("POST", f"/volumes/{plain}/block-restriction",
                             {"restriction": "unlocked"}), 400,
                 "validation failed: restriction: must be a valid value.")
    bhv = create_volume(srv, topo.cluster, 5, name="bhv37", block=True,
                        durability={"type": "replicate", "replicate": {"replica": 3}})
    for restriction in ["locked", ""]:
        location = accepted(srv.request("POST", f"/volumes/{bhv}/block-restriction",
                                        {"restriction": restriction}))
        assert_see_other(srv.wait_queue(location), f"/volumes/{bhv}")
        blockinfo = json_body(srv.request("GET", f"/volumes/{bhv}"))["blockinfo"]
        assert blockinfo.get("restriction", "") == restriction
    done(srv, "DELETE", f"/volumes/{bhv}")


# ============================================================================================
# Block volumes, bricks, admin endpoints (items 38-43)
# ============================================================================================

def test_item_38_create_block_volume(srv: ServerProcess, topo: Topology, slow: ServerProcess,
                                     slow_topo: Topology) -> None:
    # No hosting volume at all and auto-creation off (the slow server never gets a BHV).
    assert_error(slow.request("POST", "/blockvolumes", {"size": 1}), 500, BHV_DISABLED)
    cluster = topo.cluster
    bhv = create_volume(srv, cluster, 5, name="bhv38", block=True,
                        durability={"type": "replicate", "replicate": {"replica": 3}})
    info = json_body(srv.request("GET", f"/volumes/{bhv}"))
    assert info["glustervolumeoptions"] == ["", "group gluster-block", ""]
    assert info["blockinfo"] == {"freesize": 4, "reservedsize": 1}
    # Errata: with auto-creation off, a BHV without room gives the "disabled" text too.
    assert_error(srv.request("POST", "/blockvolumes", {"size": 100, "clusters": [cluster]}), 500,
                 BHV_DISABLED)
    location = accepted(srv.request("POST", "/blockvolumes", {"size": 2, "clusters": [cluster]}))
    final = srv.wait_queue(location)
    path = header(final, "Location") or ""
    assert re.fullmatch(r"/blockvolumes/[0-9a-f]{32}", path)
    assert_see_other(final, path)
    block_id = path.rsplit("/", 1)[1]
    block = json_body(srv.request("GET", path))
    assert list(block) == ["size", "name", "hacount", "id", "blockvolume", "cluster",
                           "blockhostingvolume", "usablesize"]
    assert block["name"] == f"blockvol_{block_id}"
    assert (block["size"], block["id"], block["cluster"], block["blockhostingvolume"],
            block["usablesize"]) == (2, block_id, cluster, bhv, 2)
    assert block["hacount"] == 3
    assert sorted(block["blockvolume"]["hosts"]) == sorted(topo.storage)
    assert {k: v for k, v in block["blockvolume"].items() if k != "hosts"} == {
        "iqn": "fakeIQN", "lun": 0, "username": "", "password": ""}
    blockinfo = json_body(srv.request("GET", f"/volumes/{bhv}"))["blockinfo"]
    assert (blockinfo["freesize"], blockinfo["blockvolume"]) == (2, [block_id])
    for body, text in [({}, "validation failed: size: cannot be blank."),
                       ({"size": 1, "name": "bad.name"},
                        "validation failed: name: must be in a valid format."),
                       ({"size": 1, "hacount": -1},
                        "validation failed: hacount: must be no less than 1.")]:
        assert_error(srv.request("POST", "/blockvolumes", body), 400, text)
    done(srv, "DELETE", path)
    done(srv, "DELETE", f"/volumes/{bhv}")


def test_item_39_list_get_expand_delete_block_volumes(srv: ServerProcess, topo: Topology) -> None:
    cluster = topo.cluster
    bhv = create_volume(srv, cluster, 10, name="bhv39", block=True,
                        durability={"type": "replicate", "replicate": {"replica": 3}})
    block_id = created(srv, "POST", "/blockvolumes",
                       {"size": 2, "name": "b39", "clusters": [cluster]}, "blockvolumes")
    assert block_id in json_body(srv.request("GET", "/blockvolumes"))["blockvolumes"]
    assert json_body(srv.request("GET", f"/blockvolumes/{block_id}"))["name"] == "b39"
    assert block_id in json_body(srv.request("GET", f"/clusters/{cluster}"))["blockvolumes"]
    expand = f"/blockvolumes/{block_id}/expand"
    assert_error(srv.request("POST", expand, {"new_size": 2}), 500,
                 "Failed to allocate block volume expansion: Requested new-size 2 is same as "
                 "current block volume size 2, nothing to be done.")
    assert_error(srv.request("POST", expand, {"new_size": 1}), 500,
                 "Failed to allocate block volume expansion: Requested new-size 1 is less than "
                 "current block volume size 2, shrinking is not allowed.")
    assert_error(srv.request("POST", expand, {}), 400,
                 "validation failed: new_size: cannot be blank.")
    location = accepted(srv.request("POST", expand, {"new_size": 4}))
    assert_see_other(srv.wait_queue(location), f"/blockvolumes/{block_id}")
    block = json_body(srv.request("GET", f"/blockvolumes/{block_id}"))
    assert (block["size"], block["usablesize"]) == (4, 4)
    location = accepted(srv.request("DELETE", f"/blockvolumes/{block_id}"))
    assert_empty(srv.wait_queue(location), 204)
    assert_error(srv.request("GET", f"/blockvolumes/{block_id}"), 404, NOT_FOUND)
    assert_error(srv.request("DELETE", f"/blockvolumes/{block_id}"), 404, NOT_FOUND)
    assert block_id not in json_body(srv.request("GET", "/blockvolumes"))["blockvolumes"]
    done(srv, "DELETE", f"/volumes/{bhv}")


def test_item_40_evict_brick(srv: ServerProcess, topo: Topology) -> None:
    # Replica 2 on three nodes: the third node can take the evicted brick.
    volume_id = create_volume(srv, topo.cluster, name="evict40",
                              durability={"type": "replicate", "replicate": {"replica": 2}})
    before = json_body(srv.request("GET", f"/volumes/{volume_id}"))["bricks"]
    brick = before[0]["id"]
    assert_error(srv.request("POST", f"/bricks/to-evict/{brick}", {"healcheck": "sometimes"}),
                 400, "validation failed: healcheck: sometimes is not valid heal info check.")
    assert_error(srv.request("POST", f"/bricks/to-evict/{'5' * 32}", {}), 404, NOT_FOUND)
    location = accepted(srv.request("POST", f"/bricks/to-evict/{brick}", {}))
    assert_empty(srv.wait_queue(location), 204)
    after = json_body(srv.request("GET", f"/volumes/{volume_id}"))["bricks"]
    assert brick not in {b["id"] for b in after}
    assert len(after) == 2 and len({b["node"] for b in after}) == 2
    # Errata: an empty body is accepted.
    location = accepted(srv.request("POST", f"/bricks/to-evict/{after[0]['id']}"))
    assert_empty(srv.wait_queue(location), 204)


def test_item_41_operations_endpoints(srv: ServerProcess, slow: ServerProcess,
                                      slow_topo: Topology) -> None:
    counts = json_body(srv.request("GET", "/operations"))
    assert list(counts) == ["total", "in_flight", "stale", "failed", "new"]
    assert counts == {"total": 0, "in_flight": 0, "stale": 0, "failed": 0, "new": 0}
    assert json_body(srv.request("GET", "/operations/pending")) == {"pendingoperations": []}
    unknown = "6" * 32
    assert_error(srv.request("GET", f"/operations/pending/{unknown}"), 404,
                 f"Id not found: {unknown}")
    for body in [{}, {"operations": []}, {"operations": [unknown]}]:
        done(srv, "POST", "/operations/pending/cleanup", body)
    assert_error(srv.request("POST", "/operations/pending/cleanup", {"operations": "x"}), 422,
                 UNPARSEABLE)
    assert_error(srv.request("POST", "/operations/pending/cleanup", {"operations": ["x"]}), 400,
                 "validation failed: operations: x is not a valid UUID.")
    # An in-flight create.
    with in_flight(slow, slow_topo.cluster, "op41"):
        [operation] = json_body(slow.request("GET", "/operations/pending"))["pendingoperations"]
        assert list(operation) == ["id", "type_name", "status", "sub_status"]
        assert (operation["type_name"], operation["status"], operation["sub_status"]) == \
            ("create-volume", "", "in-flight")
        detail = json_body(slow.request("GET", f"/operations/pending/{operation['id']}"))
        assert list(detail) == ["id", "type_name", "status", "sub_status", "changes"]
        assert sorted(c["description"] for c in detail["changes"]) == ["Add brick", "Add volume"]
        assert json_body(slow.request("GET", "/operations")) == \
            {"total": 1, "in_flight": 1, "stale": 0, "failed": 0, "new": 1}


def _indented_json(reply: Reply) -> Any:
    assert reply.status == 200, (reply.status, reply.text)
    assert header(reply, "Content-Type") == JSON_TYPE
    value = json.loads(reply.body)
    assert reply.body == json.dumps(value, indent=4).encode() + b"\n"
    return value


def test_item_42_logging_db_and_examine(srv: ServerProcess, topo: Topology) -> None:
    assert json_body(srv.request("GET", "/internal/logging")) == \
        {"loglevel": {"glusterfs": "warning"}}
    try:
        debug = {"loglevel": {"glusterfs": "debug"}}
        assert json_body(srv.request("POST", "/internal/logging", debug)) == debug
        assert json_body(srv.request("GET", "/internal/logging")) == debug
        assert json_body(srv.request("POST", "/internal/logging",
                                     {"loglevel": {"glusterfs": ""}})) == debug
        assert json_body(srv.request("POST", "/internal/logging",
                                     {"loglevel": {"glusterfs": "debug", "other": "info"}})) \
            == debug
        assert_error(srv.request("POST", "/internal/logging",
                                 {"loglevel": {"glusterfs": "verbose"}}), 422,
                     "invalid log level: verbose")
        for body in [{"loglevel": {"other": "debug"}}, {"loglevel": {}}, {}]:
            assert_error(srv.request("POST", "/internal/logging", body), 422,
                         'Only "glusterfs" logger may be modified')
    finally:
        srv.request("POST", "/internal/logging", {"loglevel": {"glusterfs": "warning"}})
    dump = _indented_json(srv.request("GET", "/db/dump"))
    assert list(dump) == ["clusterentries", "volumeentries", "brickentries", "nodeentries",
                          "deviceentries", "blockvolumeentries", "dbattributeentries",
                          "pendingoperations"]
    assert list(dump["clusterentries"][topo.cluster]) == ["Info"]
    assert list(dump["nodeentries"][topo.nodes[0]]) == ["State", "Info", "Devices"]
    assert list(dump["deviceentries"][topo.devices[0]]) == \
        ["State", "Info", "Bricks", "NodeId", "ExtentSize"]
    check = _indented_json(srv.request("GET", "/db/check"))
    assert list(check) == ["clusters", "volumes", "bricks", "nodes", "devices", "blockvolumes",
                           "dbattributes", "pendingoperations", "totalinconsistencies"]
    assert list(check["clusters"]) == ["total", "pending", "ok", "notok", "inconsistencies"]
    assert check["totalinconsistencies"] == 0
    examine = _indented_json(srv.request("GET", "/internal/state/examine/gluster"))
    assert list(examine) == ["heketidb", "report", "clusters"]
    assert topo.cluster in examine["heketidb"]["clusterentries"]
    backup = srv.request("GET", "/backup/db")
    assert backup.status == 200
    assert header(backup, "Content-Type") == "application/octet-stream"
    assert header(backup, "Content-Disposition") == 'attachment; filename="heketi.db"'
    assert backup.body


METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
METRIC_HELP = {
    "heketi_up": "Is heketi running?",
    "heketi_cluster_count": "Number of clusters",
    "heketi_volumes_count": "Number of volumes on cluster",
    "heketi_block_volumes_count": "Number of block volumes on cluster",
    "heketi_nodes_count": "Number of nodes on cluster",
    "heketi_device_count": "Number of devices on host",
    "heketi_device_size": "Total size of the device",
    "heketi_device_free": "Amount of Free space available on the device",
    "heketi_device_used": "Amount of space used on the device",
    "heketi_device_size_bytes": "Total size of the device in bytes",
    "heketi_device_free_bytes": "Amount of Free space available on the device in bytes",
    "heketi_device_used_bytes": "Amount of space used on the device in bytes",
    "heketi_device_brick_count": "Number of bricks on device",
    "heketi_operations_stale_count": "Number of Stale Operations",
    "heketi_operations_failed_count": "Number of Failed Operations",
    "heketi_operations_new_count": "Number of New Operations",
    "heketi_operations_total_count": "Total Number of Operations",
    "heketi_operations_inFlight_count": "Number of in flight Operations",
}
EMPTY_SERVER_FAMILIES = {"heketi_up", "heketi_cluster_count", "heketi_operations_stale_count",
                         "heketi_operations_failed_count", "heketi_operations_new_count",
                         "heketi_operations_total_count", "heketi_operations_inFlight_count"}
DEVICE_LABELS = ["cluster", "device", "hostname", "id", "pv_uuid", "storage_hostname"]
METRIC_LABELS = {
    "heketi_volumes_count": ["cluster"], "heketi_block_volumes_count": ["cluster"],
    "heketi_nodes_count": ["cluster"],
    "heketi_device_count": ["cluster", "hostname", "storage_hostname"],
    **{name: DEVICE_LABELS for name in [
        "heketi_device_size", "heketi_device_free", "heketi_device_used",
        "heketi_device_size_bytes", "heketi_device_free_bytes", "heketi_device_used_bytes",
        "heketi_device_brick_count"]},
}
_SAMPLE = re.compile(r'^(\w+)(?:\{(.*)\})? (\S+)$')


def parse_metrics(text: str) -> dict[str, dict[str, Any]]:
    """heketi_* families: help, type and the label dicts of their samples."""
    families: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        if line.startswith("# HELP heketi_"):
            name, help_text = line[len("# HELP "):].split(" ", 1)
            families.setdefault(name, {"samples": []})["help"] = help_text
        elif line.startswith("# TYPE heketi_"):
            name, kind = line[len("# TYPE "):].split(" ", 1)
            families.setdefault(name, {"samples": []})["type"] = kind
        elif line.startswith("heketi_"):
            match = _SAMPLE.match(line)
            assert match, line
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
            families.setdefault(match.group(1), {"samples": []})["samples"].append(labels)
    return families


def test_item_43_metrics(srv: ServerProcess, topo: Topology, fresh: ServerProcess) -> None:
    reply = fresh.request("GET", "/metrics", role="none")
    assert reply.status == 200
    assert header(reply, "Content-Type") == METRICS_TYPE
    families = parse_metrics(reply.text)
    assert set(families) == EMPTY_SERVER_FAMILIES
    for name, family in families.items():
        assert (family["help"], family["type"], family["samples"]) == \
            (METRIC_HELP[name], "gauge", [{}]), name
    reply = send(srv, "GET", "/metrics", authorization="Bearer garbage")
    assert reply.status == 200
    families = parse_metrics(reply.text)
    assert set(families) == set(METRIC_HELP)
    for name, family in families.items():
        assert (family["help"], family["type"]) == (METRIC_HELP[name], "gauge"), name
        for labels in family["samples"]:
            assert sorted(labels) == METRIC_LABELS.get(name, []), name
    device_samples = families["heketi_device_size"]["samples"]
    topo_devices = [s for s in device_samples if s["cluster"] == topo.cluster]
    assert sorted(s["id"] for s in topo_devices) == sorted(topo.devices)
    assert {(s["hostname"], s["storage_hostname"], s["device"]) for s in topo_devices} == {
        (f"node{i}.example.test", f"10.0.0.{i}", "/dev/sdb") for i in (1, 2, 3)}

