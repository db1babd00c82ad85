"""Tells what a stream holds from its first bytes (magic numbers), never from a file name."""

from __future__ import annotations

import enum
import lzma
import struct
import zlib

from loopml.security.scan._walker import HIGHEST_PROTOCOL, OPCODES

HEAD_SIZE = 4096
_TORCH_LEGACY_MAGIC = (0x1950A86A20F9469CFC6C).to_bytes(10, "little")


class Format(enum.StrEnum):
    """Content kinds the scanner tells apart."""

    ZIP = "zip"
    TAR = "tar"
    GZIP = "gzip"
    BZ2 = "bz2"
    XZ = "xz"
    LZMA = "lzma"
    ZLIB = "zlib"
    NPY = "npy"
    PICKLE = "pickle"
    TORCH_LEGACY = "torch-legacy"
    MAYBE_PICKLE = "maybe-pickle"  # starts with a protocol 0/1 opcode: walked to find out
    SAFETENSORS = "safetensors"
    DATA = "data"  # anything else: nothing that deserialises to code


def sniff(head: bytes) -> Format:
    """The format of a stream whose first bytes (up to :data:`HEAD_SIZE`) are ``head``.

    Example:
        >>> sniff(b"\\x80\\x04\\x95").value
        'pickle'
        >>> sniff(b"PK\\x03\\x04").value
        'zip'
    """
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return Format.ZIP
    if head[:2] == b"\x1f\x8b":
        return Format.GZIP
    if head[:3] == b"BZh" and head[3:4].isdigit():
        return Format.BZ2
    if head[:6] == b"\xfd7zXZ\x00":
        return Format.XZ
    if head[:6] == b"\x93NUMPY":
        return Format.NPY
    if len(head) >= 262 and head[257:262] == b"ustar":
        return Format.TAR
    if head[:1] == b"\x80" and len(head) > 1 and head[1] <= HIGHEST_PROTOCOL:
        if head[2:4] == b"\x8a\x0a" and head[4:14] == _TORCH_LEGACY_MAGIC:
            return Format.TORCH_LEGACY
        return Format.PICKLE
    if _is_zlib(head):
        return Format.ZLIB
    if _is_lzma_alone(head):
        return Format.LZMA
    if _is_safetensors(head):
        return Format.SAFETENSORS
    if head and head[0] in OPCODES:
        return Format.MAYBE_PICKLE
    return Format.DATA


def _is_zlib(head: bytes) -> bool:
    if len(head) < 2 or head[0] & 0x0F != 8 or head[0] >> 4 > 7 or (head[0] * 256 + head[1]) % 31:
        return False
    try:
        zlib.decompressobj().decompress(head, 64)
    except zlib.error:
        return False
    return True


def _is_lzma_alone(head: bytes) -> bool:
    # .lzma ("alone") header: properties byte, dictionary size, uncompressed size; then the
    # range coder's first byte, which is always zero.
    if len(head) < 14 or head[0] > 224 or head[13] != 0:
        return False
    try:
        lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(head, 64)
    except lzma.LZMAError:
        return False
    return True


def _is_safetensors(head: bytes) -> bool:
    if len(head) < 10:
        return False
    (n,) = struct.unpack("<Q", head[:8])
    return 2 <= n <= 100 * 1024**2 and head[8:9] == b"{"
