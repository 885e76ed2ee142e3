"""The inbox folder: XML files dropped by a relay, a prefecture gateway or a person.

Rules: a file is taken once its size and modification time held still for one scan
(so a file still being copied is not read half-written); only regular files, never
through a symbolic link, never larger than the parser's cap (checked before reading);
each is handed to ``handle(bytes, source)`` and then moved to ``done/`` or
``rejected/`` (the reason is logged). Names starting with "." are left alone (a relay's
temporary files). Scanning never raises.
"""

import logging
import os
import stat
from pathlib import Path

from announcer.jma.parse import MAX_BYTES

log = logging.getLogger(__name__)
MAX_FILES = 200  # per scan


class Inbox:
    def __init__(self, folder: Path, handle):
        self.folder, self.handle = Path(folder), handle
        self._last: dict[str, tuple] = {}

    def ensure(self) -> None:
        for sub in ("", "done", "rejected"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)

    def scan(self) -> int:
        """Process what is ready; returns how many files were taken."""
        try:
            entries = sorted(os.scandir(self.folder), key=lambda e: e.name)[:MAX_FILES * 5]
        except OSError as exc:
            log.error("JMA inbox %s unreadable: %s", self.folder, exc)
            return 0
        now, taken = {}, 0
        for e in entries:
            if e.name.startswith(".") or e.name in ("done", "rejected"):
                continue
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            sig = (st.st_size, st.st_mtime_ns, st.st_mode)
            now[e.name] = sig
            if self._last.get(e.name) != sig or taken >= MAX_FILES:
                continue  # new or still changing: look again next scan
            taken += 1
            self._take(Path(e.path), st)
        self._last = now
        return taken

    def _take(self, path: Path, st) -> None:
        if not stat.S_ISREG(st.st_mode):
            return self._move(path, "rejected", "not a regular file")
        if st.st_size > MAX_BYTES:
            return self._move(path, "rejected", f"too large ({st.st_size} bytes)")
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as f:
                data = f.read(MAX_BYTES + 1)
        except OSError as exc:
            return self._move(path, "rejected", f"unreadable ({exc.strerror})")
        ok, outcome = self.handle(data, f"inbox:{path.name}")
        self._move(path, "done" if ok else "rejected", outcome)

    def _move(self, path: Path, where: str, reason: str) -> None:
        target = self.folder / where / path.name
        n = 1
        while target.exists() or target.is_symlink():
            target = self.folder / where / f"{path.stem}.{n}{path.suffix}"
            n += 1
        try:
            os.replace(path, target)
        except OSError as exc:
            log.error("JMA inbox: cannot move %s to %s/: %s", path.name, where, exc)
            return
        level = logging.WARNING if where == "rejected" else logging.INFO
        log.log(level, "JMA inbox: %s → %s/ (%s)", path.name, where, reason)
