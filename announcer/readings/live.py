"""The reading dictionary on air: ``voices/dict/*.csv`` compiled to one Open JTalk file.

Rules:
- ``reload()`` reads every file, and compiles only when what Open JTalk would see changed:
  a stamp beside the compiled file holds the content hash (``version``). A start with
  unchanged files costs reading the CSVs, never a compile.
- A new dictionary is checked in child processes before it replaces the live file
  (``compiler.compile_dictionary``); on any failure the last good one stays on air and
  the error is raised.
- Reloads are serialized; ``on_change(path, version)`` is called inside the lock, so
  the speech workers are told about dictionaries in the order they were made.
"""

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from announcer.readings import compiler
from announcer.readings.rows import Entry, dict_surface, find_dictionaries, load_entries

log = logging.getLogger(__name__)


class ReadingDictionary:
    def __init__(self, folder: Path, compiled: Path,
                 on_change: Callable[[str, str], None] | None = None):
        self.folder = Path(folder)  # voices/dict
        self.path = Path(compiled)  # data/dict/user.dic
        self.version = ""  # "" while no dictionary is in use
        self._on_change = on_change or (lambda path, version: None)
        self._lock = threading.Lock()

    @property
    def stamp(self) -> Path:
        return self.path.with_suffix(".version")

    def entries(self) -> list[Entry]:
        """Every word that goes into the dictionary; ConfigError when a file is broken."""
        return load_entries(find_dictionaries(self.folder))

    def reload(self) -> str:
        """Compile (when changed) and use the dictionary; returns its version."""
        with self._lock:  # the page and SIGHUP may reload at the same moment
            return self._reload()

    def _reload(self) -> str:
        paths = find_dictionaries(self.folder)
        entries = load_entries(paths)
        if not entries:
            self.version = ""
            self._on_change("", "")
            return ""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        version = compiler.dictionary_version(entries)
        if not (self.path.exists() and self._stamped() == version):
            version = compiler.compile_dictionary(paths, self.path)
            self.stamp.write_text(version)
        else:
            log.debug("Reading dictionary %s unchanged: not compiled", version)
        self.version = version
        self._on_change(str(self.path), version)
        return version

    def _stamped(self) -> str:
        try:
            return self.stamp.read_text()
        except OSError:
            return ""

    def origins(self, words: list[tuple[str, str]]) -> list[tuple[str, str, Entry]]:
        """For the (surface, reading) pairs Open JTalk produced, the entries they came from.

        A word counts as the dictionary's when its surface and reading are an entry's:
        the system dictionary could give the same, and then it does not matter which did.
        """
        try:
            by_surface = {dict_surface(e.surface): e for e in self.entries()}
        except Exception:  # a broken file: the reading is still shown, without origins
            return []
        found = []
        for surface, kana in words:
            entry = by_surface.get(surface)
            if entry is not None and entry.pronunciation == kana:
                found.append((surface, kana, entry))
        return found
