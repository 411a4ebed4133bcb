"""The one set of rules for values that reach storage nodes (heketipy.domain.validators): the
API, ``heketipy db import``, the command builders and the simulator all apply these, so a value
one of them accepts is never refused by another."""

from __future__ import annotations

import pytest

from heketipy.domain import validators as v
from heketipy.executors import commands
from heketipy.executors.commands import UnsafeArgument

LONG = "a" * 5000
HOSTILE_WORDS = ["$(reboot)", "a;reboot", "`reboot`", "../x", "a\0b", "a\nb", LONG, "-rf"]


@pytest.mark.parametrize(
    "path",
    [
        "/dev/../etc/passwd", "/etc/passwd", "/-rf", "/dev/-rf", "/dev/./sdb", "/dev/sdb/..",
        "/dev//sdb", "/dev/", "/dev", "dev/sdb", "/dev/sdb;reboot", "/dev/$(reboot)",
        "/dev/sdb\0", "/dev/sdb\n", "/dev/" + LONG, "",
    ],
)  # fmt: skip
def test_bad_device_paths_are_refused_everywhere(path: str) -> None:
    assert v.device_path_problem(path)
    with pytest.raises(UnsafeArgument):
        commands.safe_device_path(path)


@pytest.mark.parametrize(
    "path", ["/dev/sdb", "/dev/vdb1", "/dev/disk/by-path/pci-0000:00:1f.2-ata-1",
             "/dev/mapper/vg_abc-brick_def", "/dev/disk/by-id/nvme-Samsung_SSD_970.x_1"],
)  # fmt: skip
def test_real_device_paths_pass(path: str) -> None:
    assert v.device_path_problem(path) is None
    assert commands.safe_device_path(path) == path


@pytest.mark.parametrize("name", [*HOSTILE_WORDS, "force", "volume", "a b", "x" * 256])
def test_bad_names_are_refused_everywhere(name: str) -> None:
    assert v.name_problem(name)
    with pytest.raises(UnsafeArgument):
        commands.safe_volume_name(name)


@pytest.mark.parametrize("name", ["vol_0123", "my-vol", "_x", "x" * v.MAX_NAME_CHARS])
def test_good_names_pass(name: str) -> None:
    assert v.name_problem(name) is None
    assert commands.safe_volume_name(name) == name


@pytest.mark.parametrize(
    "host", [*HOSTILE_WORDS, "", "fe80::1%eth0", "a..b", ("a" * 63 + ".") * 4 + "a", "a" * 64]
)
def test_bad_hostnames_are_refused_everywhere(host: str) -> None:
    assert v.host_problem(host)
    assert not v.is_valid_host(host)
    with pytest.raises(UnsafeArgument):
        commands.safe_hostname(host)


@pytest.mark.parametrize(
    "host", ["node1", "under_score.example.test", "10.0.0.1", "::1", "fe80::1", "a" * 63 + ".b"]
)
def test_good_hostnames_pass(host: str) -> None:
    assert v.host_problem(host) is None
    assert commands.safe_hostname(host) == host


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"rack": "a\nb"}, "value of tag rack: must not contain control characters"),
        ({"rack": "a\0b"}, "value of tag rack: must not contain control characters"),
        ({"rack": "a\x7fb"}, "value of tag rack: must not contain control characters"),
        ({"rack": "x" * 65}, "value of tag rack: the length must be no more than 64"),
        ({"a\nb": "x"}, "invalid characters in tag name a\nb"),
        ({"x" * 33: "v"}, f"tag name {'x' * 33}: the length must be between 1 and 32"),
        ({"": "v"}, "tag names may not be empty"),
        ({f"t{i}": "v" for i in range(33)}, "too many tags specified (33), up to 32 supported"),
        ({"rack": "$(reboot) is inert data"}, None),
        ({"rack": "r1", "arbiter": "required"}, None),
    ],
)
def test_tag_rules(tags: dict[str, str], expected: str | None) -> None:
    assert v.tags_problem(tags) == expected


@pytest.mark.parametrize(
    "option", ["a;b c", "key $(x)", "key `x`", "key\nv", "key\0v", "key -v", "--xml v", " "]
)
def test_bad_options_are_refused_everywhere(option: str) -> None:
    assert v.option_problem(option)
    with pytest.raises(UnsafeArgument):
        commands.safe_option_words(option)


def test_good_options_split_into_words() -> None:
    assert v.option_problem("auth.allow 10.0.0.1,10.0.0.*") is None
    assert commands.safe_option_words("ssl.cipher-list  HIGH:!SSLv2") == [
        "ssl.cipher-list", "HIGH:!SSLv2"
    ]


def test_refusals_do_not_echo_huge_values() -> None:
    with pytest.raises(UnsafeArgument) as caught:
        commands.safe_volume_name(LONG)
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize("value", [*HOSTILE_WORDS, "", "abc", "g" * 32, "0" * 31, "0" * 33, "-" * 32])
def test_bad_ids_are_refused_everywhere(value: str) -> None:
    assert not v.is_valid_id(value) and not v.is_generated_id(value)
    with pytest.raises(UnsafeArgument):
        commands.safe_id(value, "device id")


def test_ids_either_case_but_only_lowercase_is_one_heketipy_generated() -> None:
    from heketipy.domain.entities import new_id

    generated = new_id()
    assert v.is_valid_id(generated) and v.is_generated_id(generated)
    assert v.is_valid_id(generated.upper()) and not v.is_generated_id(generated.upper())
    assert commands.safe_id(generated.upper()) == generated.upper()
