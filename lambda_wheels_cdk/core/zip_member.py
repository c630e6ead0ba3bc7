"""A zip member as a seekable stream whose memory and unzipping cost are bounded.

The audit reads an ELF file's header, program headers, dynamic segment, string table and
version tables; they sit all over the file (``.dynamic`` 38 MB into pyarrow's 49 MB
``libarrow``, the string table 1.2 MB in; patchelf moves the string table to the very end).
:class:`zipfile.ZipExtFile` can seek, but a backward seek unzips the member again from its
start, and reading a member whole costs its full size in memory (4 GiB of zeros compress into
4 MB). :class:`BoundedMember` instead keeps the member's first :data:`KEEP_BYTES` (where the
headers, string and version tables of real libraries lie) and a few aligned blocks of what was
read further on; everything else is unzipped going forward. Memory is bounded by those
constants, whatever the member holds.

Every byte unzipped -- again after a backward seek too -- is charged twice: to the member
(at most ``3 * size + KEEP_BYTES``: forward to the dynamic segment, back to the version table,
back to the strings) and to an :class:`UnzipBudget` shared by one zip (a zip bomb of many
members). Going over either raises :class:`MemberTooCostly` or :class:`UnzipBudgetExceeded`,
which the caller turns into a finding; since a parser may wrap what its stream raises
(pyelftools turns it into ``ELFParseError``), the exception is also kept in
:attr:`BoundedMember.failure` for the caller to re-raise. Time follows: the audit's work per
byte is unzipping.
"""

from __future__ import annotations

import io
from typing import IO, Final

#: The first bytes of a member, kept once read.
KEEP_BYTES: Final = 4 << 20
#: Reads past :data:`KEEP_BYTES` fetch whole aligned blocks; this many are kept (LRU).
BLOCK_BYTES: Final = 64 << 10
BLOCKS: Final = 16


class UnzipBudgetExceeded(Exception):
    """One zip made the audit unzip more than its budget."""


class MemberTooCostly(Exception):
    """Reading one member would unzip more than ``3 * size + KEEP_BYTES`` bytes."""

    def __init__(self, allowance: int) -> None:
        super().__init__(f"reading it would unzip more than {allowance:,} bytes")
        self.allowance = allowance


class UnzipBudget:
    """Bytes one zip may still make the audit unzip."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.used = 0

    @property
    def exhausted(self) -> bool:
        return self.used >= self.total

    def spend(self, n: int) -> None:
        self.used += n
        if self.used > self.total:
            raise UnzipBudgetExceeded(f"unzipped {self.used:,} bytes, over {self.total:,}")


class BoundedMember:
    """A read-only, seekable view of a member opened with :meth:`zipfile.ZipFile.open`.

    ``size`` is the member's declared uncompressed size (what ``ZipExtFile`` stops at);
    ``seek(0, SEEK_END)`` uses it without unzipping anything.
    """

    def __init__(self, raw: IO[bytes], size: int, budget: UnzipBudget) -> None:
        self._raw = raw
        self._raw_pos = 0
        self._size = size
        self._pos = 0
        self._prefix = bytearray()
        self._blocks: dict[int, bytes] = {}  # aligned start -> bytes, oldest first
        self._budget = budget
        self._allowance = 3 * size + KEEP_BYTES
        self._spent = 0
        #: Why reading stopped (over a budget), even if a parser wrapped the exception.
        self.failure: MemberTooCostly | UnzipBudgetExceeded | None = None

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self._size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise ValueError("negative seek position")
        self._pos = pos
        return pos

    def tell(self) -> int:
        return self._pos

    def read(self, n: int | None = -1) -> bytes:
        end = self._size if n is None or n < 0 else min(self._pos + n, self._size)
        if end <= self._pos:
            return b""
        start, parts = self._pos, []
        if start < KEEP_BYTES:
            upto = min(end, KEEP_BYTES)
            self._fill(upto)
            parts.append(bytes(self._prefix[start:upto]))
            start += len(parts[-1])
            if start < upto:  # the member ended early
                end = start
        while start < end:
            chunk = self._far(start, end)
            if not chunk:
                break
            parts.append(chunk)
            start += len(chunk)
        data = b"".join(parts)
        self._pos += len(data)
        return data

    # -- unzipping ------------------------------------------------------------------------------

    def _spend(self, n: int) -> None:
        if self.failure is not None:
            raise self.failure
        self._spent += n
        try:
            if self._spent > self._allowance:
                raise MemberTooCostly(self._allowance)
            self._budget.spend(n)
        except (MemberTooCostly, UnzipBudgetExceeded) as exc:
            self.failure = exc
            raise

    def _unzip(self, n: int) -> bytes:
        data = self._raw.read(n)
        self._spend(len(data))
        self._raw_pos += len(data)
        return data

    def _move_raw(self, pos: int) -> None:
        if pos == self._raw_pos:
            return
        # forward: ZipExtFile unzips and drops the bytes in between; backward: from the start
        self._spend(pos - self._raw_pos if pos > self._raw_pos else pos)
        self._raw.seek(pos)
        self._raw_pos = self._raw.tell()

    def _fill(self, upto: int) -> None:
        """Extend the kept prefix to ``upto`` bytes (or the member's end)."""
        upto = min(upto, KEEP_BYTES, self._size)
        while len(self._prefix) < upto:
            self._move_raw(len(self._prefix))
            data = self._unzip(min(upto - len(self._prefix), 1 << 20))
            if not data:
                return  # the member ends early: short reads follow
            self._prefix += data

    def _far(self, start: int, end: int) -> bytes:
        """Bytes from ``start`` (past the prefix) up to ``end``, through the block cache."""
        base = start - start % BLOCK_BYTES
        block = self._blocks.get(base)
        if block is None:
            self._fill(KEEP_BYTES)  # unzipped anyway to move past it: keep it
            self._move_raw(base)
            want = max(end, base + BLOCK_BYTES) - base
            block = self._unzip(want)
            if len(block) <= BLOCK_BYTES:
                self._blocks[base] = block
                while len(self._blocks) > BLOCKS:
                    del self._blocks[next(iter(self._blocks))]
        else:
            self._blocks[base] = self._blocks.pop(base)  # most recently used last
        return block[start - base : end - base]
