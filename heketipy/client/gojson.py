"""JSON text exactly as Go's encoding/json writes it (compact or 4-space indented).

Go escapes `<`, `>`, `&`, U+2028 and U+2029 and keeps other non-ASCII characters as they are.
"""

from __future__ import annotations

import json
from typing import Any


def _html_escape(text: str) -> str:
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def dumps_compact(value: Any) -> str:
    """`json.Marshal`: compact, no trailing newline."""
    return _html_escape(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def dumps_indent4(value: Any) -> str:
    """`json.MarshalIndent(v, "", "    ")`, no trailing newline."""
    return _html_escape(json.dumps(value, ensure_ascii=False, indent=4))
