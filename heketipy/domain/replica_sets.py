"""Replica/disperse sets of a volume: what Gluster says they are, and how the database's differ.

Gluster alone knows which bricks form a set: ``volume info`` lists a volume's bricks in order,
and every consecutive run of ``set width`` bricks (the replica count, data + redundancy, or 1)
is one set, its arbiter last. A Heketi dump does not record it (Heketi keeps a volume's bricks
sorted by id), so the sets of an imported volume are a guess until Gluster has been read.

Pure functions over ``(host, path)`` addresses (a brick's storage hostname and its path, as
Gluster names it): ``layout_from_gluster`` gives each database brick its set and position from
Gluster's order, ``database_sets``/``gluster_sets`` group both sides, and ``sets_mismatch``
explains how they differ.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TypeVar

Address = tuple[str, str]  # (storage host, brick path)
_Member = TypeVar("_Member")
Sets = list[list[Address]]


class SetsUnreadable(ValueError):
    """Gluster's brick list cannot be matched with the database's bricks of the volume."""


def gluster_sets(addresses: Sequence[Address], width: int) -> Sets:
    """Gluster's brick order cut into sets of ``width`` bricks."""
    width = max(width, 1)
    return [list(addresses[i : i + width]) for i in range(0, len(addresses), width)]


def database_sets(placed: Iterable[tuple[int, int, _Member]]) -> list[list[_Member]]:
    """The database's sets from ``(set_index, position, member)`` of every brick (its address
    or its id), in set order and position order within a set."""
    grouped: dict[int, list[tuple[int, _Member]]] = {}
    for set_index, position, member in placed:
        grouped.setdefault(set_index, []).append((position, member))
    return [[m for _, m in sorted(grouped[i], key=lambda pm: pm[0])] for i in sorted(grouped)]


def layout_from_gluster(
    addresses: Sequence[Address],
    width: int,
    brick_at: Mapping[Address, str],
    arbiters: Collection[Address] = (),
) -> dict[str, tuple[int, int]]:
    """brick id -> (set index, position) from Gluster's brick order.

    ``brick_at`` maps each database brick's address to its id; ``arbiters`` are the addresses
    of the database's arbiter bricks, which Gluster must list last in their sets. Raises
    ``SetsUnreadable`` when the two do not hold the same bricks, Gluster's list is not whole
    sets, or an arbiter is not where Gluster keeps arbiters.
    """
    width = max(width, 1)
    unknown = [f"{host}:{path}" for host, path in addresses if (host, path) not in brick_at]
    listed = set(addresses)
    absent = sorted(f"{host}:{path}" for host, path in brick_at if (host, path) not in listed)
    if unknown or absent:
        parts = []
        if unknown:
            parts.append(f"gluster has bricks the database does not: {', '.join(unknown)}")
        if absent:
            parts.append(f"the database has bricks gluster does not: {', '.join(absent)}")
        raise SetsUnreadable("; ".join(parts))
    if len(addresses) != len(listed):
        raise SetsUnreadable("gluster lists a brick twice")
    if len(addresses) % width:
        raise SetsUnreadable(f"{len(addresses)} bricks do not make whole sets of {width}")
    layout = {brick_at[address]: divmod(index, width) for index, address in enumerate(addresses)}
    misplaced = [
        f"{host}:{path}" for host, path in arbiters
        if layout[brick_at[(host, path)]][1] != width - 1
    ]
    if misplaced:
        raise SetsUnreadable(
            f"arbiter bricks not last in their set in gluster: {', '.join(sorted(misplaced))}"
        )
    return layout


def _shown(sets: Sets) -> str:
    return "; ".join(
        f"set {i}: " + ", ".join(f"{host}:{path}" for host, path in members)
        for i, members in enumerate(sets)
    )


def sets_mismatch(database: Sets, gluster: Sets) -> str | None:
    """Why the database's sets (and positions within them) are not Gluster's; None when equal."""
    if database == gluster:
        return None
    return (
        f"the database groups the bricks into replica sets differently from gluster: "
        f"database {_shown(database)}; gluster {_shown(gluster)}"
    )
