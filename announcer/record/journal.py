"""The as-run journal: a small pre-allocated file holding the as-run entries the
database has not taken yet, so that neither a locked database, a full disk nor a crash
loses what the air did.

Rules:
- The file is allocated at its full size (``SIZE``) once, while the disk still has room:
  appending later overwrites blocks it already owns, so it works on a full disk.
- ``append`` returns once the entry is on disk (``fdatasync``): the record writes here
  first and to the database second.
- Layout: a 64-byte header ``ANJ1 <generation>``, then one line per append,
  ``<crc32 hex> <json>\\n``, the JSON carrying the generation (``g``) and the entries
  (``e``, a list: what is appended together survives together). Reading stops at
  the first line that is blank, torn, fails its CRC or belongs to another generation.
  ``clear`` only writes a new header (generation + 1): lines left behind from before
  are never read again, and clearing costs one small write.
- Never more than ``SIZE`` bytes: a full journal raises ``JournalFull`` (the record then
  keeps entries in memory only and says so).
"""

import json
import logging
import os
import time
import zlib
from pathlib import Path

log = logging.getLogger(__name__)

SIZE = 1024 * 1024  # about 4,000 entries: weeks of this station's airings
HEADER = 64
MAGIC = b"ANJ1 "


class JournalFull(OSError):
    """No room left in the pre-allocated file."""


class Journal:
    def __init__(self, path: Path, size: int = SIZE):
        self.path, self.size = path, size
        self.generation = 0
        self._end = HEADER
        self._fd: int | None = None

    # -- opening ---------------------------------------------------------------------
    def open(self) -> list[dict]:
        """Open (creating and allocating it if needed) and return the entries a previous
        run left, oldest first. Raises OSError if the file cannot be made."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            self._allocate(fd)
            data = os.pread(fd, self.size, 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        entries = self._parse(data)
        if self.generation == 0:  # a new (all zero) or unreadable file
            # a generation no line left in the file can carry (a torn header must not
            # bring back lines of an old generation 1)
            self.generation = time.time_ns() // 1000
            self._write_header()
        return entries

    def _allocate(self, fd: int) -> None:
        have = os.fstat(fd).st_size
        if have >= self.size:
            return
        try:
            os.posix_fallocate(fd, 0, self.size)
            os.fsync(fd)
        except OSError as exc:
            if have < HEADER + 1024:
                raise
            # an older, smaller journal still works: use what it has
            log.warning("As-run journal %s stays at %d bytes: %s", self.path, have, exc)
            self.size = have

    def _parse(self, data: bytes) -> list[dict]:
        head = data[:HEADER]
        if not head.startswith(MAGIC):
            return []
        try:
            self.generation = int(head[len(MAGIC):].split()[0])
        except (ValueError, IndexError):
            return []
        entries, pos = [], HEADER
        while pos < len(data):
            end = data.find(b"\n", pos)
            if end < 0:
                break
            batch = self._decode(data[pos:end])
            if batch is None:
                break
            entries.extend(batch)
            pos = end + 1
        self._end = pos
        return entries

    def _decode(self, line: bytes) -> list[dict] | None:
        crc, _, payload = line.partition(b" ")
        try:
            if len(crc) != 8 or int(crc, 16) != zlib.crc32(payload):
                return None
            record = json.loads(payload)
        except ValueError:
            return None
        if not isinstance(record, dict) or record.get("g") != self.generation or \
                not isinstance(record.get("e"), list):
            return None
        return [e for e in record["e"] if isinstance(e, dict)]

    @classmethod
    def peek(cls, path: Path) -> list[dict]:
        """The entries waiting in a journal, read only (for tools; never writes)."""
        journal = cls(path)
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            return []
        return journal._parse(data)

    # -- writing ---------------------------------------------------------------------
    def append(self, entries: dict | list[dict]) -> None:
        """Write an entry, or entries that must survive together, and make them durable.
        Raises JournalFull or OSError."""
        if self._fd is None:
            raise OSError("the as-run journal is not open")
        entries = [entries] if isinstance(entries, dict) else list(entries)
        payload = json.dumps({"g": self.generation, "e": entries}, ensure_ascii=False,
                             separators=(",", ":")).encode("utf-8")
        line = b"%08x " % zlib.crc32(payload) + payload + b"\n"
        if self._end + len(line) > self.size:
            raise JournalFull(f"the as-run journal is full ({self.size} bytes)")
        os.pwrite(self._fd, line, self._end)
        os.fdatasync(self._fd)
        self._end += len(line)

    def clear(self) -> None:
        """Forget every entry (all are in the database now)."""
        if self._fd is None or self._end == HEADER:
            return
        self.generation += 1
        self._write_header()
        self._end = HEADER

    def _write_header(self) -> None:
        head = (MAGIC + str(self.generation).encode()).ljust(HEADER - 1) + b"\n"
        os.pwrite(self._fd, head, 0)
        os.fdatasync(self._fd)

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    @property
    def used(self) -> int:
        return self._end - HEADER

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
