"""The one list of journaled operation types: recovery finds a journal record's class here by
its ``type_name``.

Explicit on purpose: a type missing from this list is a test failure
(``tests/unit/test_operations_catalog.py``), not a journal record that no process can ever
resume, and a module that fails to import stops the server at start-up.
"""

from __future__ import annotations

from heketipy.operations.blockvolumes import CreateBlockVolume, DeleteBlockVolume, ExpandBlockVolume
from heketipy.operations.bricks import EvictBrick
from heketipy.operations.expansion import ExpandInPlace
from heketipy.operations.nodes import AddDevice, DeleteDevice
from heketipy.operations.runtime import Operation
from heketipy.operations.volumes import CloneVolume, CreateVolume, DeleteVolume, ExpandVolume

JOURNALED_OPERATIONS: tuple[type[Operation], ...] = (
    CreateVolume,
    DeleteVolume,
    ExpandVolume,
    ExpandInPlace,
    CloneVolume,
    CreateBlockVolume,
    DeleteBlockVolume,
    ExpandBlockVolume,
    EvictBrick,
    AddDevice,
    DeleteDevice,
)

OPERATION_TYPES: dict[str, type[Operation]] = {op.type_name: op for op in JOURNALED_OPERATIONS}
