"""Go's ``base64.RawURLEncoding`` decoder (what Go's jwt library decodes token segments with)."""

from __future__ import annotations

from heketipy.gocompat.errors import GoError

_B64URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_B64URL_VALUES = {byte: index for index, byte in enumerate(_B64URL_ALPHABET)}


def base64url_decode(segment: str) -> bytes:
    """Decode unpadded base64url like Go (non-strict); errors name Go's byte offset.

    Go skips CR/LF, rejects `=` (no padding in the raw encoding) and any other byte at
    its offset, and rejects a final group of a single character.
    """
    data = segment.encode("utf-8", "surrogateescape")
    out = bytearray()
    group: list[int] = []
    position = 0
    while position < len(data):
        byte = data[position]
        position += 1
        if byte in (0x0A, 0x0D):
            continue
        value = _B64URL_VALUES.get(byte)
        if value is None:
            raise GoError(f"illegal base64 data at input byte {position - 1}")
        group.append(value)
        if len(group) == 4:
            bits = group[0] << 18 | group[1] << 12 | group[2] << 6 | group[3]
            out += bits.to_bytes(3, "big")
            group = []
    if len(group) == 1:
        # Go names the input length minus one here (the lone character, unless newlines
        # follow it).
        raise GoError(f"illegal base64 data at input byte {len(data) - 1}")
    if group:
        bits = 0
        for value in group:
            bits = bits << 6 | value
        bits <<= 6 * (4 - len(group))
        out += bits.to_bytes(3, "big")[: len(group) - 1]
    return bytes(out)
