"""A tiny authoritative DNS server on 127.0.0.1 (UDP) for the AsyncResolver tests.

It answers A and AAAA questions from a table (RFC 1035 §4 message format), NXDOMAIN for names
it does not know, and counts the questions it got, so a test can tell how many lookups the
client really made. It runs in the test's own event loop.
"""

from __future__ import annotations

import asyncio
import ipaddress
import struct
from collections import Counter

_TYPE_A = 1
_TYPE_AAAA = 28
_CLASS_IN = 1


class DNSServer(asyncio.DatagramProtocol):
    """``records`` maps a lower-case name to its addresses (IPv4 and IPv6 mixed)."""

    def __init__(self, records: dict[str, list[str]], ttl: int = 60) -> None:
        self.records = records
        self.ttl = ttl
        self.questions: Counter[tuple[str, int]] = Counter()
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0

    async def start(self) -> DNSServer:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=("127.0.0.1", 0)
        )
        self.port = transport.get_extra_info("sockname")[1]
        return self

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            reply = self._answer(data)
        except (ValueError, IndexError, struct.error):
            return  # not a question we can parse: stay silent, as a real server may
        assert self.transport is not None
        self.transport.sendto(reply, addr)

    def _answer(self, query: bytes) -> bytes:
        ident, _flags, qdcount = struct.unpack("!HHH", query[:6])
        if qdcount != 1:
            raise ValueError("one question per message")
        name, end = _read_name(query, 12)
        qtype, qclass = struct.unpack("!HH", query[end : end + 4])
        question = query[12 : end + 4]
        self.questions[(name, qtype)] += 1
        addresses = self.records.get(name)
        if addresses is None:
            # QR, RD, RA, RCODE=3 (NXDOMAIN)
            return struct.pack("!HHHHHH", ident, 0x8183, 1, 0, 0, 0) + question
        answers = [
            self._record(qtype, ip) for ip in addresses if _type_of(ip) == qtype and qclass == 1
        ]
        header = struct.pack("!HHHHHH", ident, 0x8180, 1, len(answers), 0, 0)
        return header + question + b"".join(answers)

    def _record(self, qtype: int, ip: str) -> bytes:
        rdata = ipaddress.ip_address(ip).packed
        # 0xC00C: a pointer to the question's name at offset 12 (RFC 1035 §4.1.4).
        return struct.pack("!HHHIH", 0xC00C, qtype, _CLASS_IN, self.ttl, len(rdata)) + rdata


def _type_of(ip: str) -> int:
    return _TYPE_AAAA if ":" in ip else _TYPE_A


def _read_name(data: bytes, offset: int) -> tuple[str, int]:
    labels = []
    while True:
        length = data[offset]
        offset += 1
        if length == 0:
            return ".".join(labels).lower(), offset
        if length & 0xC0:
            raise ValueError("compressed names are not expected in a question")
        labels.append(data[offset : offset + length].decode("ascii"))
        offset += length
