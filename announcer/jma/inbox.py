"""The inbox folder: XML files dropped by a relay, a prefecture gateway or a person.

Rules:
- Names starting with "." (a relay's temporary files) and the ``done``/``rejected``
  folders are skipped *before* anything is counted or limited, so no number of
  leftovers can hide a real file. A scan looks at up to ``MAX_ENTRIES`` names and takes
  up to ``MAX_FILES`` ready files, oldest name first; what is left over is a backlog,
  reported through ``intake`` (the service publishes it).
- A file is taken only when complete and stable: its size and modification time held
  still for one scan, and it parses to its end. A file that is still being written
  (the parser ran out of input) is left where it is and looked at again when it
  changes; only if it stays cut short for ``INCOMPLETE_SECONDS`` is it rejected.
- Only regular files, never through a symbolic link, never larger than the parser's
  cap (checked before reading). Each is handed to ``handle(bytes, source)`` and then
  moved to ``done/`` or ``rejected/`` (the reason is logged, names shown safely). A
  rejected file that changes afterwards (a writer that kept writing into it) is moved
  back and read again.
- Scanning never raises.
"""

import logging
import os
import stat
import time
from pathlib import Path

from announcer.jma.intake import oneline
from announcer.jma.parse import MAX_BYTES, is_incomplete

log = logging.getLogger(__name__)
MAX_FILES = 200           # taken per scan
MAX_ENTRIES = 20000       # names looked at per scan
INCOMPLETE_SECONDS = 30.0
MAX_WATCHED = 500         # rejected files watched for a change


class Inbox:
    def __init__(self, folder: Path, handle, intake=None, monotonic=time.monotonic):
        self.folder, self.handle = Path(folder), handle
        self.intake, self.monotonic = intake, monotonic
        self._last: dict[str, tuple] = {}
        self._waiting: dict[str, tuple] = {}          # name -> (sig, since): cut short
        self._rejected: dict[str, tuple] = {}         # name in rejected/ -> its sig

    def ensure(self) -> None:
        for sub in ("", "done", "rejected"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)

    def scan(self) -> int:
        """Process what is ready; returns how many files were taken."""
        try:
            names = self._names()
        except OSError as exc:
            log.error("JMA inbox %s unreadable: %s", self.folder, exc)
            return 0
        self._retry_rejected()
        seen, taken, ready = {}, 0, 0
        for name in names:
            path = self.folder / name
            try:
                st = path.lstat()
            except OSError:
                continue
            sig = (st.st_size, st.st_mtime_ns, st.st_mode)
            seen[name] = sig
            if self._last.get(name) != sig:
                continue  # new or still changing: look again next scan
            waiting = self._waiting.get(name)
            if waiting and waiting[0] == sig and \
                    self.monotonic() - waiting[1] < INCOMPLETE_SECONDS:
                continue  # cut short and unchanged: its writer may come back
            ready += 1
            if taken < MAX_FILES:
                taken += 1
                self._take(path, st, sig)
        self._last = seen
        self._waiting = {n: w for n, w in self._waiting.items() if n in seen}
        if self.intake is not None:
            self.intake.set_backlog(max(0, ready - taken) + self._overflow)
        return taken

    def _names(self) -> list[str]:
        names, self._overflow = [], 0
        with os.scandir(self.folder) as it:
            for e in it:
                if e.name.startswith(".") or e.name in ("done", "rejected"):
                    continue
                if len(names) >= MAX_ENTRIES:
                    self._overflow += 1
                    continue
                names.append(e.name)
        return sorted(names)

    def _take(self, path: Path, st, sig) -> None:
        if not stat.S_ISREG(st.st_mode):
            return self._move(path, "rejected", "not a regular file", sig)
        if st.st_size > MAX_BYTES:
            return self._move(path, "rejected", f"too large ({st.st_size} bytes)", sig)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as f:
                data = f.read(MAX_BYTES + 1)
        except OSError as exc:
            return self._move(path, "rejected", f"unreadable ({exc.strerror})", sig)
        ok, outcome = self.handle(data, f"inbox:{path.name}")
        if not ok and is_incomplete(outcome):
            waiting = self._waiting.get(path.name)
            since = waiting[1] if waiting and waiting[0] == sig else self.monotonic()
            if self.monotonic() - since < INCOMPLETE_SECONDS:
                if not waiting or waiting[0] != sig:
                    log.info("JMA inbox: %s is not complete yet; waiting for its writer",
                             oneline(path.name))
                self._waiting[path.name] = (sig, since)
                return None
        self._waiting.pop(path.name, None)
        self._move(path, "done" if ok else "rejected", outcome, sig)

    def _move(self, path: Path, where: str, reason: str, sig=None) -> None:
        target = self.folder / where / path.name
        n = 1
        while target.exists() or target.is_symlink():
            target = self.folder / where / f"{path.stem}.{n}{path.suffix}"
            n += 1
        try:
            os.replace(path, target)
        except OSError as exc:
            log.error("JMA inbox: cannot move %s to %s/: %s", oneline(path.name), where, exc)
            return
        if where == "rejected":
            if self.intake is not None:
                self.intake.rejected(f"受信フォルダ {oneline(path.name, 80)}")
            if sig is not None and stat.S_ISREG(sig[2]):
                self._rejected[target.name] = sig
                while len(self._rejected) > MAX_WATCHED:
                    self._rejected.pop(next(iter(self._rejected)))
        level = logging.WARNING if where == "rejected" else logging.INFO
        log.log(level, "JMA inbox: %s → %s/ (%s)", oneline(path.name), where, oneline(reason))

    def _retry_rejected(self) -> None:
        """A rejected file that changed since (its writer was still at it) is read again."""
        for name, sig in list(self._rejected.items()):
            path = self.folder / "rejected" / name
            try:
                st = path.lstat()
            except OSError:
                self._rejected.pop(name, None)
                continue
            if (st.st_size, st.st_mtime_ns, st.st_mode) == sig:
                continue
            self._rejected.pop(name, None)
            target = self.folder / name
            if target.exists() or target.is_symlink():
                continue
            try:
                os.replace(path, target)
                log.warning("JMA inbox: %s changed after it was rejected; reading it again",
                            oneline(name))
            except OSError as exc:
                log.error("JMA inbox: cannot move %s back: %s", oneline(name), exc)
