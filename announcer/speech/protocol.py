"""Framing between the supervisor and a synthesis worker: length-prefixed JSON + PCM."""

import json
import struct

_LEN = struct.Struct("<I")


def send(stream, header: dict, payload: bytes = b"") -> None:
    data = json.dumps(header, ensure_ascii=False).encode("utf-8")
    stream.write(_LEN.pack(len(data)) + data + _LEN.pack(len(payload)) + payload)
    stream.flush()


def _read_exact(stream, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = stream.read(n - len(buf))
        if not chunk:
            raise EOFError("worker pipe closed")
        buf += chunk
    return bytes(buf)


def receive(stream) -> tuple[dict, bytes]:
    (size,) = _LEN.unpack(_read_exact(stream, _LEN.size))
    header = json.loads(_read_exact(stream, size).decode("utf-8"))
    (size,) = _LEN.unpack(_read_exact(stream, _LEN.size))
    return header, _read_exact(stream, size) if size else b""
