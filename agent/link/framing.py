"""Frame payloads for the wire and find them again in a byte stream.

Separate from I/O (as pyserial's ``Packetizer`` is) so the driver, the emulator and the fuzz
tests share one implementation. Decoders are incremental: a reply may arrive in any number of
pieces. Anything that is not a frame raises FramingError (or ChecksumError), never another
exception, and the decoder drops the offending bytes so the next frame can still be found.
"""

from __future__ import annotations

from agent.link.errors import ChecksumError, FramingError
from agent.link.profiles import FramingSpec


def crc16(data: bytes, variant: str) -> int:
    """CRC-16 variants used by serial devices (check values for b'123456789': MODBUS 0x4B37,
    CCITT-FALSE 0x29B1, XMODEM 0x31C3)."""
    if variant == "crc16-modbus":
        crc = 0xFFFF
        for b in data:
            crc ^= b
            for _ in range(8):
                crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        return crc
    if variant in ("crc16-ccitt-false", "crc16-xmodem"):
        crc = 0xFFFF if variant == "crc16-ccitt-false" else 0x0000
        for b in data:
            crc ^= b << 8
            for _ in range(8):
                crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
        return crc
    raise ValueError(f"unknown CRC variant {variant!r}")


class Decoder:
    """Incremental frame finder; ``feed`` returns complete payloads."""

    def __init__(self) -> None:
        self.buf = bytearray()

    @property
    def pending(self) -> int:
        """Bytes of an unfinished frame (a reply cut off mid-way leaves these)."""
        return len(self.buf)

    def reset(self) -> None:
        self.buf.clear()

    def feed(self, data: bytes) -> list[bytes]:
        self.buf.extend(data)
        out: list[bytes] = []
        while True:
            frame = self._next()
            if frame is None:
                return out
            out.append(frame)

    def _next(self) -> bytes | None:  # pragma: no cover - overridden
        raise TypeError("abstract")


class LineDecoder(Decoder):
    def __init__(self, terminator: bytes, max_length: int):
        super().__init__()
        self.term = terminator
        self.max = max_length

    def _next(self) -> bytes | None:
        while True:
            idx = self.buf.find(self.term)
            if idx < 0:
                if len(self.buf) > self.max:
                    self.buf.clear()
                    raise FramingError(f"line longer than {self.max} bytes without terminator")
                return None
            line = bytes(self.buf[:idx])
            del self.buf[: idx + len(self.term)]
            if line:
                return line


class DelimitedDecoder(Decoder):
    def __init__(self, spec: FramingSpec, encoding: str):
        super().__init__()
        self.start = spec.start.encode(encoding)
        self.end = spec.end.encode(encoding)
        self.sep = spec.separator.encode(encoding)
        self.length_field = spec.length_field
        self.max = spec.max_length

    def _garbage(self) -> None:
        idx = self.buf.find(self.start, 1)
        junk = len(self.buf) if idx < 0 else idx
        sample = bytes(self.buf[: min(junk, 16)])
        del self.buf[:junk]
        raise FramingError(f"{junk} stray bytes outside a frame (starting {sample!r})")

    def _next(self) -> bytes | None:
        if not self.buf:
            return None
        if not self.buf.startswith(self.start[: len(self.buf)]):
            self._garbage()
        if len(self.buf) < len(self.start):
            return None
        body_at = len(self.start)
        if not self.length_field:
            idx = self.buf.find(self.end, body_at)
            if idx < 0:
                if len(self.buf) > self.max:
                    self.buf.clear()
                    raise FramingError(f"frame longer than {self.max} bytes without end marker")
                return None
            payload = bytes(self.buf[body_at:idx])
            del self.buf[: idx + len(self.end)]
            return payload
        # start CMD sep LEN sep PAYLOAD end ; LEN counts PAYLOAD bytes.
        s1 = self.buf.find(self.sep, body_at)
        if s1 < 0:
            if len(self.buf) - body_at > 64:
                self._garbage()
            return None
        s2 = self.buf.find(self.sep, s1 + 1)
        if s2 < 0:
            if len(self.buf) - s1 > 12:
                self._garbage()
            return None
        cmd = bytes(self.buf[body_at:s1])
        length_txt = bytes(self.buf[s1 + 1 : s2])
        if not cmd or not length_txt.isdigit() or len(length_txt) > 7:
            self._garbage()
        length = int(length_txt)
        if length > self.max:
            self._garbage()
        total = s2 + 1 + length + len(self.end)
        if len(self.buf) < total:
            return None
        payload = bytes(self.buf[s2 + 1 : s2 + 1 + length])
        if bytes(self.buf[s2 + 1 + length : total]) != self.end:
            del self.buf[:total]
            raise FramingError(f"frame {cmd!r}: length field says {length} bytes but no end marker there")
        del self.buf[:total]
        return cmd + self.sep + payload


class LengthPrefixedDecoder(Decoder):
    def __init__(self, spec: FramingSpec):
        super().__init__()
        self.magic = bytes.fromhex(spec.magic_hex)
        self.size = spec.length_size
        self.order = spec.byteorder
        self.checksum = spec.checksum
        self.corder = spec.checksum_byteorder
        self.max = spec.max_length

    def _next(self) -> bytes | None:
        if not self.buf:
            return None
        if not self.buf.startswith(self.magic[: len(self.buf)]):
            idx = self.buf.find(self.magic[:1], 1)
            junk = len(self.buf) if idx < 0 else idx
            sample = bytes(self.buf[: min(junk, 16)])
            del self.buf[:junk]
            raise FramingError(f"{junk} stray bytes before frame magic (starting {sample.hex()})")
        head = len(self.magic) + self.size
        if len(self.buf) < head:
            return None
        length = int.from_bytes(self.buf[len(self.magic) : head], self.order)
        if length > self.max:
            del self.buf[: len(self.magic)]
            raise FramingError(f"frame length {length} exceeds the profile's maximum {self.max}")
        csize = 0 if self.checksum == "none" else 2
        total = head + length + csize
        if len(self.buf) < total:
            return None
        frame = bytes(self.buf[:total])
        del self.buf[:total]
        payload = frame[head : head + length]
        if csize:
            got = int.from_bytes(frame[head + length :], self.corder)
            want = crc16(frame[len(self.magic) : head + length], self.checksum)
            if got != want:
                raise ChecksumError(f"{self.checksum} mismatch: frame says {got:04x}, computed {want:04x}")
        return payload


class Framer:
    """Encode payloads to frames and make decoders, per a profile's ``[framing]``."""

    def __init__(self, spec: FramingSpec, encoding: str = "ascii"):
        self.spec = spec
        self.encoding = encoding

    def encode(self, payload: bytes) -> bytes:
        s = self.spec
        if len(payload) > s.max_length:
            raise FramingError(f"payload of {len(payload)} bytes exceeds the maximum {s.max_length}")
        if s.kind == "line":
            term = s.terminator.encode(self.encoding)
            if term in payload:
                raise FramingError("payload contains the line terminator")
            return payload + term
        if s.kind == "delimited":
            start, end = s.start.encode(self.encoding), s.end.encode(self.encoding)
            if not s.length_field:
                if end in payload:
                    raise FramingError("payload contains the end marker")
                return start + payload + end
            sep = s.separator.encode(self.encoding)
            cmd, _, rest = payload.partition(sep)
            return start + cmd + sep + str(len(rest)).encode("ascii") + sep + rest + end
        magic = bytes.fromhex(s.magic_hex)
        if len(payload) >= 1 << (8 * s.length_size):
            raise FramingError("payload too long for the length field")
        body = len(payload).to_bytes(s.length_size, s.byteorder) + payload
        if s.checksum != "none":
            body += crc16(body, s.checksum).to_bytes(2, s.checksum_byteorder)
        return magic + body

    def decoder(self) -> Decoder:
        s = self.spec
        if s.kind == "line":
            return LineDecoder(s.terminator.encode(self.encoding), s.max_length)
        if s.kind == "delimited":
            return DelimitedDecoder(s, self.encoding)
        return LengthPrefixedDecoder(s)

    def decode_one(self, frame: bytes) -> bytes:
        """The single payload of a complete frame (test vectors)."""
        dec = self.decoder()
        frames = dec.feed(frame)
        if len(frames) != 1 or dec.pending:
            raise FramingError(f"expected exactly one frame, got {len(frames)} (+{dec.pending} bytes)")
        return frames[0]
