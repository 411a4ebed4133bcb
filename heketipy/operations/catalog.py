"""Imports every journaled operation type so recovery can find them by type name."""

from __future__ import annotations

import contextlib

from heketipy.operations import bricks, nodes, volumes  # noqa: F401 - registration side effect

with contextlib.suppress(ImportError):  # block volumes may be absent while being built
    from heketipy.operations import blockvolumes  # noqa: F401
