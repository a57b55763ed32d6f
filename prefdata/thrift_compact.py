"""Thrift's compact protocol, read and written as a tree of fields, for Parquet footers.

A struct is a list of ``[field id, type, value]``; a list or set is ``(element type,
values)``; a map is ``(key type, value type, [(key, value), ...])``. Reading then writing
gives back the same bytes for what Apache Thrift writes (short field headers whenever
the id grows by 1-15, short list headers below 15 elements), so a footer can be changed
field by field and everything else stays as it was (``parallel_parquet``).
"""

from __future__ import annotations

import struct
from typing import Any

# Thrift compact protocol types
_TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, STRUCT = range(1, 13)

Fields = list[list[Any]]


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def byte(self) -> int:
        b = self.data[self.pos]
        self.pos += 1
        return b

    def varint(self) -> int:
        out = shift = 0
        while True:
            b = self.byte()
            out |= (b & 0x7F) << shift
            if b < 0x80:
                return out
            shift += 7

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def value(self, kind: int) -> Any:
        if kind in (_TRUE, _FALSE):  # a bool inside a collection: a byte of its own
            return self.byte() == _TRUE
        if kind == _BYTE:
            return self.byte()
        if kind in (_I16, _I32, _I64):
            return self.zigzag()
        if kind == _DOUBLE:
            self.pos += 8
            return struct.unpack_from("<d", self.data, self.pos - 8)[0]
        if kind == _BINARY:
            n = self.varint()
            self.pos += n
            return self.data[self.pos - n : self.pos]
        if kind in (_LIST, _SET):
            head = self.byte()
            size, element = head >> 4, head & 0x0F
            if size == 15:
                size = self.varint()
            return (element, [self.value(element) for _ in range(size)])
        if kind == _MAP:
            size = self.varint()
            types = self.byte() if size else 0
            key, val = types >> 4, types & 0x0F
            return (key, val, [(self.value(key), self.value(val)) for _ in range(size)])
        if kind == STRUCT:
            return self.fields()
        raise ValueError(f"unknown Thrift compact type {kind}")

    def fields(self) -> Fields:
        out: Fields = []
        last = 0
        while True:
            head = self.byte()
            if head == 0:
                return out
            kind, delta = head & 0x0F, head >> 4
            fid = last + delta if delta else self.zigzag()
            value = kind == _TRUE if kind in (_TRUE, _FALSE) else self.value(kind)
            out.append([fid, kind, value])
            last = fid


class _Writer:
    def __init__(self) -> None:
        self.out = bytearray()

    def varint(self, n: int) -> None:
        while n >= 0x80:
            self.out.append((n & 0x7F) | 0x80)
            n >>= 7
        self.out.append(n)

    def zigzag(self, n: int) -> None:
        self.varint(2 * n if n >= 0 else -2 * n - 1)

    def value(self, kind: int, value: Any) -> None:
        if kind in (_TRUE, _FALSE):
            self.out.append(_TRUE if value else _FALSE)
        elif kind == _BYTE:
            self.out.append(value & 0xFF)
        elif kind in (_I16, _I32, _I64):
            self.zigzag(value)
        elif kind == _DOUBLE:
            self.out += struct.pack("<d", value)
        elif kind == _BINARY:
            self.varint(len(value))
            self.out += value
        elif kind in (_LIST, _SET):
            element, values = value
            if len(values) < 15:
                self.out.append(len(values) << 4 | element)
            else:
                self.out.append(0xF0 | element)
                self.varint(len(values))
            for v in values:
                self.value(element, v)
        elif kind == _MAP:
            key, val, pairs = value
            self.varint(len(pairs))
            if pairs:
                self.out.append(key << 4 | val)
            for k, v in pairs:
                self.value(key, k)
                self.value(val, v)
        elif kind == STRUCT:
            self.fields(value)
        else:
            raise ValueError(f"unknown Thrift compact type {kind}")

    def fields(self, fields: Fields) -> None:
        last = 0
        for fid, kind, value in fields:
            wire = (_TRUE if value else _FALSE) if kind in (_TRUE, _FALSE) else kind
            if 0 < fid - last <= 15:
                self.out.append((fid - last) << 4 | wire)
            else:
                self.out.append(wire)
                self.zigzag(fid)
            if kind not in (_TRUE, _FALSE):
                self.value(kind, value)
            last = fid
        self.out.append(0)


def decode(data: bytes) -> Fields:
    """A struct's fields from its bytes."""
    return _Reader(data).fields()


def encode(fields: Fields) -> bytes:
    """A struct's bytes from its fields."""
    writer = _Writer()
    writer.fields(fields)
    return bytes(writer.out)
