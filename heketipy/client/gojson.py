"""JSON text exactly as Go's encoding/json writes it, for the CLI's output (no trailing newline).

Thin adapters over `heketipy.models.gojson` (standard library only), which owns the encoding:
`<`, `>`, `&`, U+2028 and U+2029 escaped, other non-ASCII kept, floats written as Go writes them.
"""

from __future__ import annotations

from typing import Any

from heketipy.models import gojson


def dumps_compact(value: Any) -> str:
    """`json.Marshal`: compact, no trailing newline."""
    return gojson.dumps(value).decode("utf-8")[:-1]


def dumps_indent4(value: Any) -> str:
    """`json.MarshalIndent(v, "", "    ")`, no trailing newline."""
    return gojson.dumps_indent4(value).decode("utf-8")[:-1]
