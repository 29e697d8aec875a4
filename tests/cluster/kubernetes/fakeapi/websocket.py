"""The server side of RFC 6455, as much as exec needs: handshake and frames.

The API server's exec endpoint upgrades a GET to a WebSocket speaking the
``v4.channel.k8s.io`` subprotocol: every binary message starts with a channel
byte (0 stdin, 1 stdout, 2 stderr, 3 error/status). Server frames are never
masked; client frames always are (section 5.1).
"""

from __future__ import annotations

import base64
import hashlib
import struct
from typing import Protocol

__all__ = [
    "BINARY",
    "CHANNEL_PROTOCOL",
    "CLOSE",
    "FrameError",
    "accept_key",
    "channel_message",
    "close_payload",
    "encode_frame",
    "read_frame",
]

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CHANNEL_PROTOCOL = "v4.channel.k8s.io"
CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MAX_PAYLOAD = 16 * 1024 * 1024


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes | None: ...


class FrameError(Exception):
    """The peer sent something that is not a well-formed frame."""


def accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (section 4.2.2)."""
    digest = hashlib.sha1((key + GUID).encode("ascii"), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode("ascii")


def encode_frame(payload: bytes, opcode: int = BINARY) -> bytes:
    """One final, unmasked frame."""
    head = bytes([0x80 | opcode])
    size = len(payload)
    if size < 126:
        head += bytes([size])
    elif size < 1 << 16:
        head += bytes([126]) + struct.pack("!H", size)
    else:
        head += bytes([127]) + struct.pack("!Q", size)
    return head + payload


def channel_message(channel: int, data: bytes) -> bytes:
    return encode_frame(bytes([channel]) + data, BINARY)


def close_payload(code: int = 1000, reason: str = "") -> bytes:
    return struct.pack("!H", code) + reason.encode("utf-8")


def _read_exactly(stream: Readable, size: int) -> bytes:
    data = stream.read(size)
    if data is None or len(data) != size:
        raise FrameError(f"connection closed inside a frame ({len(data or b'')} of {size} bytes)")
    return data


def read_frame(stream: Readable) -> tuple[int, bytes]:
    """(opcode, unmasked payload) of the next frame from a client."""
    first, second = _read_exactly(stream, 2)
    opcode = first & 0x0F
    masked = bool(second & 0x80)
    size = second & 0x7F
    if size == 126:
        (size,) = struct.unpack("!H", _read_exactly(stream, 2))
    elif size == 127:
        (size,) = struct.unpack("!Q", _read_exactly(stream, 8))
    if size > MAX_PAYLOAD:
        raise FrameError(f"frame of {size} bytes is over the limit")
    if not masked:
        raise FrameError("client frames must be masked (RFC 6455 section 5.1)")
    mask = _read_exactly(stream, 4)
    payload = bytearray(_read_exactly(stream, size))
    for i in range(size):
        payload[i] ^= mask[i % 4]
    return opcode, bytes(payload)
