"""Replica sets from Gluster's brick order (``heketipy.domain.replica_sets``)."""

from __future__ import annotations

import pytest

from heketipy.domain.replica_sets import (
    SetsUnreadable,
    database_sets,
    gluster_sets,
    layout_from_gluster,
    sets_mismatch,
)

A, B, C, D, E, F = ((f"10.0.0.{i}", f"/b/{i}") for i in range(1, 7))
BRICK_AT = {A: "a", B: "b", C: "c", D: "d", E: "e", F: "f"}


def test_gluster_order_gives_sets_and_positions() -> None:
    layout = layout_from_gluster([D, A, F, B, C, E], 3, BRICK_AT)
    assert layout == {
        "d": (0, 0), "a": (0, 1), "f": (0, 2),
        "b": (1, 0), "c": (1, 1), "e": (1, 2),
    }


def test_an_arbiter_must_be_last_in_its_set() -> None:
    assert layout_from_gluster([A, B, C, D, E, F], 3, BRICK_AT, arbiters=[C, F])["f"] == (1, 2)
    with pytest.raises(SetsUnreadable, match="arbiter bricks not last in their set in gluster"):
        layout_from_gluster([A, B, C, D, E, F], 3, BRICK_AT, arbiters=[B])


@pytest.mark.parametrize(
    ("addresses", "why"),
    [
        ([A, B, C, D, E], "the database has bricks gluster does not: 10.0.0.6:/b/6"),
        ([A, B, C, D, E, F, ("10.0.0.9", "/x")], "gluster has bricks the database does not"),
        ([A, B, C, D, E, F, F], "gluster lists a brick twice"),
    ],
)
def test_bricks_that_do_not_match_are_refused(addresses: list, why: str) -> None:
    with pytest.raises(SetsUnreadable, match=why):
        layout_from_gluster(addresses, 3, BRICK_AT)


def test_gluster_bricks_must_make_whole_sets() -> None:
    with pytest.raises(SetsUnreadable, match="5 bricks do not make whole sets of 3"):
        layout_from_gluster([A, B, C, D, E], 3, {k: v for k, v in BRICK_AT.items() if k != F})


def test_database_sets_follow_set_index_then_position() -> None:
    placed = [(1, 0, "d"), (0, 2, "c"), (0, 0, "a"), (1, 2, "f"), (0, 1, "b"), (1, 1, "e")]
    assert database_sets(placed) == [["a", "b", "c"], ["d", "e", "f"]]


def test_equal_sets_are_no_mismatch() -> None:
    assert sets_mismatch([[A, B, C], [D, E, F]], gluster_sets([A, B, C, D, E, F], 3)) is None


@pytest.mark.parametrize(
    "database",
    [
        [[A, B, D], [C, E, F]],  # other members: the defect of an import's guess
        [[B, A, C], [D, E, F]],  # same members, other positions
        [[D, E, F], [A, B, C]],  # same sets, other order
    ],
)
def test_other_grouping_or_positions_are_a_mismatch(database: list) -> None:
    why = sets_mismatch(database, gluster_sets([A, B, C, D, E, F], 3))
    assert why is not None
    assert why.startswith("the database groups the bricks into replica sets differently")
    assert "gluster set 0: 10.0.0.1:/b/1, 10.0.0.2:/b/2, 10.0.0.3:/b/3; set 1:" in why
