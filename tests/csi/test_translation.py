"""Unit: the pure translation layer of heketipy-csi - naming, StorageClass parameters, size
rounding, the HeketiError -> gRPC status mapping and the in-flight locks."""

from __future__ import annotations

import grpc
import pytest

from heketipy.client.errors import HeketiConnectionError, HeketiError
from heketipy.client.models import Volume
from heketipy.csi import naming, params, sizes
from heketipy.csi.errors import CsiError, from_heketi
from heketipy.csi.locks import InFlight
from heketipy.domain import validators

GIB = 1 << 30


def code_of(excinfo: pytest.ExceptionInfo[CsiError]) -> grpc.StatusCode:
    return excinfo.value.code


# --- naming --------------------------------------------------------------------------------

def test_kubernetes_names_are_used_as_they_are() -> None:
    name = "pvc-0b6ef1a4-2c5f-4d0e-9a53-1f0a6f7f2d11"
    assert naming.heketi_volume_name(name, params.VolumePlan()) == name


@pytest.mark.parametrize("hostile", [
    "with space", "semi;colon", "$(reboot)", "-leading-dash", "ünïcode", "a" * 129,
    "csi-0123456789abcdef0123456789abcdef",
])
def test_other_names_are_hashed_to_a_safe_token(hostile: str) -> None:
    token = naming.csi_token(hostile)
    assert token.startswith("csi-") and len(token) == 36
    assert token != hostile
    assert all(c.isalnum() or c == "-" for c in token)
    assert naming.csi_token(hostile) == token  # deterministic


def test_distinct_names_give_distinct_tokens() -> None:
    assert naming.csi_token("a b") != naming.csi_token("a  b")


def test_prefix_follows_the_in_tree_shape_with_the_token_for_the_random_part() -> None:
    plan = params.parse_parameters({
        "volumenameprefix": "dept-a",
        params.PVC_NAMESPACE: "team.one", params.PVC_NAME: "data",
    })
    assert naming.heketi_volume_name("pvc-1", plan) == "dept-a_team-one_data_pvc-1"
    bare = params.parse_parameters({"volumenameprefix": "dept-a"})
    assert naming.heketi_volume_name("pvc-1", bare) == "dept-a_pvc-1"


def test_prefixed_names_are_shortened_to_the_volume_name_limit_keeping_the_token() -> None:
    """namespace (<= 63) + claim (<= 253) + token can pass heketipy's 255 characters: the
    namespace and claim parts are cut, deterministically; the token keeps names unique."""
    token = "pvc-" + "0" * 8 + "-1111-2222-3333-" + "4" * 12
    plan = params.parse_parameters({
        "volumenameprefix": "dept-a",
        params.PVC_NAMESPACE: "n" * 63, params.PVC_NAME: "c" * 253,
    })
    name = naming.heketi_volume_name(token, plan)
    assert len(name) <= validators.MAX_NAME_CHARS and validators.name_problem(name) is None
    assert name.startswith("dept-a_n") and name.endswith("_" + token)
    assert naming.heketi_volume_name(token, plan) == name  # deterministic
    prefix, namespace, claim, rest = name.split("_", 3)
    assert rest == token and namespace.strip("n") == "" and claim.strip("c") == ""
    other = naming.heketi_volume_name("pvc-other", plan)
    assert other != name and len(other) <= validators.MAX_NAME_CHARS
    # Short enough already: unchanged.
    short = params.parse_parameters({"volumenameprefix": "p", params.PVC_NAMESPACE: "ns",
                                     params.PVC_NAME: "data"})
    assert naming.heketi_volume_name("pvc-1", short) == "p_ns_data_pvc-1"


def test_a_prefix_that_leaves_no_room_for_the_token_is_invalid_argument() -> None:
    plan = params.parse_parameters({"volumenameprefix": "p" * 250})
    with pytest.raises(CsiError) as caught:
        naming.heketi_volume_name("pvc-" + "1" * 36, plan)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "255" in caught.value.message


def test_custom_volume_name_is_used_verbatim() -> None:
    plan = params.parse_parameters({"customvolumename": "shared_data"})
    assert naming.heketi_volume_name("pvc-1", plan) == "shared_data"


# --- parameters ----------------------------------------------------------------------------

def test_defaults_match_the_in_tree_provisioner() -> None:
    plan = params.parse_parameters({})
    assert plan.durability == params.Durability("replicate", 3)
    assert (plan.gid_min, plan.gid_max) == (2000, 2147483647)
    assert plan.snap_factor is None and plan.cluster_ids == () and plan.options == ()


def test_full_in_tree_storage_class_translates() -> None:
    plan = params.parse_parameters({
        "clusterid": "aa11, bb22,",
        "volumetype": "disperse:4:2",
        "volumeoptions": "client.ssl on, server.ssl  on",
        "gidMin": "40000", "gidMax": "50000",
        "snapfactor": "1.5",
        "csi.storage.k8s.io/provisioner-secret-name": "ignored",
    })
    assert plan.cluster_ids == ("aa11", "bb22")
    assert plan.durability == params.Durability("disperse", data=4, redundancy=2)
    assert plan.options == ("client.ssl on", "server.ssl on")
    assert (plan.gid_min, plan.gid_max) == (40000, 50000)
    assert plan.snap_factor == 1.5
    body = params.create_request(plan, volume_name="n", size_gib=3, gid=45000, csi_token="t")
    assert body == {
        "size": 3, "name": "n", "gid": 45000,
        "durability": {"type": "disperse", "disperse": {"data": 4, "redundancy": 2}},
        "glustervolumeoptions": ["client.ssl on", "server.ssl on", "user.heketi.csi-name t"],
        "clusters": ["aa11", "bb22"],
        "snapshot": {"enable": True, "factor": 1.5},
    }


@pytest.mark.parametrize("value, expected", [
    ("replicate:2", params.Durability("replicate", 2)),
    ("replicate", params.Durability("replicate", 3)),
    ("none", params.Durability("none")),
    ("Replicate:3", params.Durability("replicate", 3)),
])
def test_volume_types(value: str, expected: params.Durability) -> None:
    assert params.parse_volume_type(value) == expected


@pytest.mark.parametrize("parameters", [
    {"volumetype": "replicate:0"},
    {"volumetype": "replicate:x"},
    {"volumetype": "disperse:4"},
    {"volumetype": "mirror:2"},
    {"volumeoptions": "lonelykey"},
    {"volumeoptions": "user.heketi.csi-name other"},
    {"gidMin": "10"},
    {"gidMax": "2147483648"},
    {"gidMin": "6000", "gidMax": "5000"},
    {"gidMin": "abc"},
    {"snapfactor": "0.5"},
    {"snapfactor": "101"},
    {"snapfactor": "lots"},
    {"volumenameprefix": "has_underscore"},
    {"volumenameprefix": "-dash"},
    {"customvolumename": "bad name"},
    {"customvolumename": "-rf"},
    {"customvolumename": "x" * 256},
    {"customvolumename": "x", "volumenameprefix": "y"},
    {"clusterid": "not-hex!"},
    {"resturl": "http://heketi:8080"},
    {"restuserkey": "secret"},
    {"secretName": "heketi-secret"},
    {"customepnameprefix": "ep"},
    {"replicas": "3"},
])
def test_bad_parameters_are_invalid_argument(parameters: dict[str, str]) -> None:
    with pytest.raises(CsiError) as excinfo:
        params.parse_parameters(parameters)
    assert code_of(excinfo) == grpc.StatusCode.INVALID_ARGUMENT


def test_gid_is_deterministic_and_within_the_range() -> None:
    plan = params.parse_parameters({"gidMin": "3000", "gidMax": "3009"})
    gids = {params.gid_for(f"pvc-{i}", plan) for i in range(200)}
    assert gids <= set(range(3000, 3010)) and len(gids) > 1
    assert params.gid_for("pvc-7", plan) == params.gid_for("pvc-7", plan)
    single = params.parse_parameters({"gidMin": "4242", "gidMax": "4242"})
    assert params.gid_for("anything", single) == 4242


def test_compatibility_of_an_existing_volume() -> None:
    plan = params.parse_parameters({"volumetype": "replicate:3", "volumeoptions": "a b"})
    volume = Volume.model_validate({
        "size": 2, "gid": 2500, "cluster": "c1",
        "durability": {"type": "replicate", "replicate": {"replica": 3}},
        "glustervolumeoptions": ["a b", "user.heketi.csi-name pvc-1"],
    })
    assert params.incompatibilities(volume, plan, 2500) == []
    assert params.csi_token_of(volume) == "pvc-1"
    assert params.incompatibilities(volume, plan, 2501) == ["gid 2500 instead of 2501"]
    other = params.parse_parameters({"volumetype": "none"})
    assert "durability replicate instead of none" in params.incompatibilities(volume, other, 2500)
    pinned = params.parse_parameters({"clusterid": "c2"})
    assert any("cluster" in d for d in params.incompatibilities(volume, pinned, 2500))
    bare = Volume.model_validate({"name": "x"})
    assert params.csi_token_of(bare) is None


# --- sizes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("required, limit, expected", [
    (0, 0, 1),
    (1, 0, 1),
    (GIB, 0, 1),
    (GIB + 1, 0, 2),
    (5 * GIB, 5 * GIB, 5),
    (0, 3 * GIB, 1),
    (GIB + 1, 3 * GIB, 2),
])
def test_sizes_round_up_to_whole_gib(required: int, limit: int, expected: int) -> None:
    assert sizes.gib_for_range(required, limit, default_gib=1) == expected


@pytest.mark.parametrize("required, limit", [
    (2 * GIB, GIB),        # limit below required
    (GIB + 1, GIB + 100),  # no whole GiB inside the range
    (0, GIB - 1),          # even the smallest volume is too big
])
def test_impossible_ranges_are_out_of_range(required: int, limit: int) -> None:
    with pytest.raises(CsiError) as excinfo:
        sizes.gib_for_range(required, limit, default_gib=1)
    assert code_of(excinfo) == grpc.StatusCode.OUT_OF_RANGE


def test_negative_or_missing_mandatory_ranges_are_invalid() -> None:
    with pytest.raises(CsiError) as excinfo:
        sizes.gib_for_range(-1, 0, default_gib=1)
    assert code_of(excinfo) == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(CsiError) as excinfo:
        sizes.gib_for_range(0, 0, default_gib=None)
    assert code_of(excinfo) == grpc.StatusCode.INVALID_ARGUMENT


def test_fits() -> None:
    assert sizes.fits(2, 2 * GIB, 0)
    assert sizes.fits(2, GIB, 2 * GIB)
    assert not sizes.fits(2, 2 * GIB + 1, 0)
    assert not sizes.fits(2, GIB, GIB)


# --- error mapping -------------------------------------------------------------------------

@pytest.mark.parametrize("exc, code", [
    (HeketiError(500, "Failed to allocate new volume: No space"),
     grpc.StatusCode.RESOURCE_EXHAUSTED),
    (HeketiError(500, "Failed to allocate volume expansion: Minimum brick size limit reached."
                      "  Out of space."), grpc.StatusCode.RESOURCE_EXHAUSTED),
    (HeketiError(500, "Failed to allocate volume expansion: Maximum number of bricks reached."),
     grpc.StatusCode.RESOURCE_EXHAUSTED),
    (HeketiConnectionError('Get "http://x/hello": dial tcp 127.0.0.1:1: connect: connection '
                           "refused"), grpc.StatusCode.UNAVAILABLE),
    (HeketiError(500, "Failed to allocate volume expansion: The target exists, contains other"
                      " items, or is in use."), grpc.StatusCode.ABORTED),
    (HeketiError(400, "Cluster id abc not found"), grpc.StatusCode.INVALID_ARGUMENT),
    (HeketiError(404, "Id not found"), grpc.StatusCode.NOT_FOUND),
    (HeketiError(401, "token missing"), grpc.StatusCode.UNAUTHENTICATED),
    (HeketiError(429, "Server busy"), grpc.StatusCode.UNAVAILABLE),
    (HeketiError(500, "gluster volume create failed"), grpc.StatusCode.INTERNAL),
])
def test_heketi_errors_map_to_csi_codes(exc: HeketiError, code: grpc.StatusCode) -> None:
    mapped = from_heketi(exc, "create volume")
    assert mapped.code == code
    assert mapped.message.startswith("create volume: ")


# --- in-flight locks -----------------------------------------------------------------------

def test_a_second_holder_is_aborted_until_the_first_releases() -> None:
    locks = InFlight()
    with locks.hold("name:a", "volume a"):
        assert locks.busy("name:a")
        with pytest.raises(CsiError) as excinfo, locks.hold("name:a", "volume a"):
            pass
        assert code_of(excinfo) == grpc.StatusCode.ABORTED
        with locks.hold("name:b", "volume b"):
            pass
    assert not locks.busy("name:a")
    with pytest.raises(RuntimeError), locks.hold("name:a", "volume a"):
        raise RuntimeError("released on failure too")
    assert not locks.busy("name:a")
