"""The changes a pending operation records: Heketi's persisted change codes and their texts.

A ``PendingOperation.changes`` item names its change by code or by description; the dump
writes the code, ``GET /operations/pending/{id}`` shows the description, and the consistency
check follows the changes that mark an entity pending.
"""

from __future__ import annotations

from typing import Any

# Persisted change codes and the description ``GET /operations/pending/{id}`` shows for each.
# Codes 1 and 2 are confirmed by the recordings; the rest follow Heketi's enumeration order
# (expand-block-volume was added last, like its operation type).
CHANGE_DESCRIPTIONS: dict[int, str] = {
    0: "Unknown",
    1: "Add brick",
    2: "Add volume",
    3: "Delete brick",
    4: "Delete volume",
    5: "Expand volume",
    6: "Add block volume",
    7: "Delete block volume",
    8: "Remove device",
    9: "Clone volume from",
    10: "Snapshot volume",
    11: "Expand volume to",
    12: "Performing child operation",
    13: "Belongs to parent operation",
    14: "Expand block volume",
}
CHANGE_CODES: dict[str, int] = {text: code for code, text in CHANGE_DESCRIPTIONS.items()}

# Which table a change's id refers to, for changes that mark an entity pending.
PENDING_CHANGE_TABLES: dict[int, str] = {
    1: "brick",
    2: "volume",
    3: "brick",
    4: "volume",
    6: "blockvolume",
    7: "blockvolume",
}


def change_code(change: dict[str, Any]) -> int:
    """The persisted code of one ``PendingOperation.changes`` item (code or description)."""
    value = change.get("change")
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value if value in CHANGE_DESCRIPTIONS else 0
    if isinstance(value, str):
        return CHANGE_CODES.get(value, 0)
    return 0


def change_description(change: dict[str, Any]) -> str:
    return CHANGE_DESCRIPTIONS[change_code(change)]
