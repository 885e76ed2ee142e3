"""The web-managed reading dictionary: ``voices/dict/web.csv``.

Staff add, change and delete words from the staff page; the shipped files (moka.csv,
tochigi.csv, the generated area.csv) are only read here. A staff word may take the
surface of an area word: it shadows it, and deleting it brings the area word back. A change is validated exactly like
the files (``rows.parse_row``, then ``load_entries`` over every file), written
atomically, and compiled and checked by the studio's ``reload_dictionary``. If that
fails, web.csv is put back as it was, so the file on disk always matches the dictionary
on air, and the daemon keeps its last good dictionary.
"""

import hashlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from announcer.core.fsutil import fsync_dir, write_synced
from announcer.core.errors import AnnouncerError, ConfigError
from announcer.readings.rows import (AREA, HAND, HEADER, KIND_LABELS, WEB_CSV, Entry,
                                     dict_surface, find_dictionaries, kind_of, load_entries,
                                     mora_count, parse_row)
from announcer.speech.accent import morae

log = logging.getLogger(__name__)

FIELDS = HEADER  # surface, pronunciation, accent_type, priority: the form's field names
PREAMBLE = ("# 読み辞書のページが書き換えるファイルです。手で編集しないでください"
            "（手で直す単語は moka.csv や tochigi.csv へ）\n")
STALE = ("ほかの人が先に読み辞書を変更しました。一覧で今の内容を確かめてから、"
         "もう一度操作してください")
# parse_row's messages start with the name of the column they are about.
_FIELD_PREFIXES = (("表記", "surface"), ("読み", "pronunciation"),
                   ("アクセント型", "accent_type"), ("優先度", "priority"))


class DictionaryError(AnnouncerError):
    """A refused change. ``fields`` maps form field names to their messages; ``status``
    is what the web page answers (422 invalid, 409 stale or duplicate, 404 unknown)."""

    def __init__(self, message: str, fields: dict[str, list[str]] | None = None,
                 status: int = 422):
        super().__init__(message)
        self.fields = fields or {}
        self.status = status


@dataclass(frozen=True)
class Word:
    """One dictionary entry as the page shows it."""

    surface: str
    pronunciation: str
    accent_type: int
    priority: int
    file: str  # "moka.csv"
    line: int

    @property
    def editable(self) -> bool:
        return self.file == WEB_CSV

    @property
    def kind(self) -> str:
        return kind_of(self.file)

    @property
    def origin(self) -> str:
        """Which dictionary the word is from, as staff call it."""
        return KIND_LABELS[self.kind]

    @property
    def moras(self) -> int:
        return mora_count(self.pronunciation)

    @property
    def notation(self) -> str:
        return accent_notation(self.pronunciation, self.accent_type)

    def row(self) -> str:
        return f"{self.surface},{self.pronunciation},{self.accent_type},{self.priority}"


def accent_notation(kana: str, accent_type: int) -> str:
    """``'`` after the mora where the pitch falls; 平板 (0) carries it after the last mora,
    like the preview's reading (``Studio.reading(accent=True)``)."""
    parts = morae(kana)
    nucleus = accent_type if 0 < accent_type <= len(parts) else len(parts)
    return "".join(parts[:nucleus]) + "'" + "".join(parts[nucleus:])


def field_of(message: str) -> str:
    """The form field a validation message is about ("" when none)."""
    if "優先度を上げて" in message:  # compiled, but Open JTalk still prefers its own reading
        return "priority"
    return next((f for prefix, f in _FIELD_PREFIXES if message.startswith(prefix)), "")


def parse_fields(form) -> Entry:
    """The form's four fields as an Entry, validated like a file row."""
    cells = [str(form.get(name) or "").strip() for name in FIELDS]
    entry, messages = parse_row(cells, WEB_CSV)
    if entry is None:
        raise _refusal("入力に誤りがあります。赤い字の説明に沿って直してください", messages)
    return entry


def _refusal(message: str, problems: list[str], status: int = 422) -> DictionaryError:
    fields: dict[str, list[str]] = {}
    general = []
    for problem in problems:
        field = field_of(problem)
        if field:
            fields.setdefault(field, []).append(problem)
        else:
            general.append(problem)
    return DictionaryError("\n".join([message, *general]), fields, status)


def katakana(text: str) -> str:
    """Hiragana turned into katakana (a search for もーか finds モーカ)."""
    return "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in text)


def matching(words: list[Word], query: str) -> list[Word]:
    """Words whose surface or reading contains ``query`` (hiragana matches katakana)."""
    query = query.strip()
    if not query:
        return words
    kana = katakana(query)
    return [w for w in words if query in w.surface or kana in w.pronunciation]


class WebDictionary:
    """web.csv in ``folder`` (voices/dict), changed only through this object.

    ``reload`` compiles and swaps in the dictionary of every file in ``folder`` (the
    studio's ``reload_dictionary``) and raises when it cannot. Changes are serialized,
    and each one names the ``version()`` it was made from: a stale one is refused.
    """

    def __init__(self, folder: Path, reload: Callable[[], object]):
        self.folder = Path(folder)
        self.path = self.folder / WEB_CSV
        self._reload = reload
        self._lock = threading.Lock()

    # -- reading -----------------------------------------------------------------------
    def _bytes(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None

    def version(self) -> str:
        """A hash of web.csv: changes whenever anyone saves."""
        return hashlib.sha256(self._bytes() or b"").hexdigest()[:16]

    def words(self) -> list[Word]:
        """Every word of every file, in file order, the generated area list last;
        ConfigError when a file is broken."""
        entries = load_entries(find_dictionaries(self.folder))
        return [self._word(e) for e in sorted(entries, key=lambda e: e.kind == AREA)]

    def search(self, query: str) -> list[Word]:
        return matching(self.words(), query)

    @staticmethod
    def _word(entry: Entry) -> Word:
        return word_of(entry)

    # -- changing ----------------------------------------------------------------------
    def add(self, entry: Entry, version: str, override: bool = False) -> Word:
        """``override``: the word may have the surface of a hand-made word, whose reading
        it then replaces (staff words win)."""
        return self._commit(version, None, entry, override)[1]

    def edit(self, surface: str, entry: Entry, version: str) -> tuple[Word, Word]:
        return self._commit(version, surface, entry)

    def delete(self, surface: str, version: str) -> Word:
        return self._commit(version, surface, None)[0]

    def _commit(self, version: str, surface: str | None, entry: Entry | None,
                override: bool = False) -> tuple[Word | None, Word | None]:
        with self._lock:
            before = self._bytes()
            if hashlib.sha256(before or b"").hexdigest()[:16] != version:
                raise DictionaryError(STALE, status=409)
            words = self._current_words()
            web = [w for w in words if w.editable]
            old = self._find(words, surface) if surface is not None else None
            if entry is not None:
                self._refuse_duplicate(words, entry.surface, old, override)
            rows = [w.row() for w in web if w is not old]
            if entry is not None:
                new_row = Word(*_fields(entry), WEB_CSV, 0).row()
                rows.insert(web.index(old) if old else len(rows), new_row)
            self._write_checked(PREAMBLE + ",".join(HEADER) + "\n" +
                                "".join(f"{r}\n" for r in rows))
            self._reload_or_restore(before)
            new = self._find(self._current_words(), entry.surface) if entry else None
        log.info("Reading dictionary: %s → %s", old.row() if old else "-",
                 new.row() if new else "-")
        return old, new

    def _current_words(self) -> list[Word]:
        try:
            return self.words()
        except ConfigError as exc:
            problems = [self._short(p) for p in exc.problems]
            raise DictionaryError("辞書ファイルに誤りがあるため、変更できません。"
                                  "次の行を直してください\n" + "\n".join(problems)) from None

    def _find(self, words: list[Word], surface: str) -> Word:
        word = next((w for w in words if w.surface == surface), None)
        if word is None:
            raise DictionaryError(f"「{surface}」は辞書にありません。ほかの人が削除した"
                                  "かもしれません。一覧を読み込み直してください", status=404)
        if not word.editable:
            raise DictionaryError(not_editable(word), status=403)
        return word

    @staticmethod
    def _refuse_duplicate(words: list[Word], surface: str, editing: Word | None,
                          override: bool = False) -> None:
        """A staff word may share its surface with an area word, and with a hand-made
        one only when ``override`` (it then replaces that reading)."""
        key = dict_surface(surface)
        clash = next((w for w in words if dict_surface(w.surface) == key and w is not editing
                      and w.kind != AREA and not (override and w.kind == HAND)), None)
        if clash is not None:
            message = f"表記「{surface}」はすでに {clash.file}（{clash.line} 行目）にあります"
            raise DictionaryError(message, {"surface": [message]}, status=409)

    def _write_checked(self, text: str) -> None:
        """Validate the new web.csv like the files, then move it into place atomically.
        It is checked under its own name (in a private folder), so it is read as the
        staff file it will be (staff words may shadow hand-made ones)."""
        private = self.folder / f".check-{os.getpid()}-{threading.get_ident()}"
        private.mkdir(exist_ok=True)
        tmp = private / WEB_CSV
        try:
            write_synced(tmp, text.encode("utf-8"))
            others = [p for p in find_dictionaries(self.folder) if p.name != WEB_CSV]
            try:
                load_entries([*others, tmp])
            except ConfigError as exc:
                raise _refusal("この内容では保存できません",
                               [self._short(p, tmp) for p in exc.problems]) from None
            os.replace(tmp, self.path)
            fsync_dir(self.folder)
        finally:
            tmp.unlink(missing_ok=True)
            private.rmdir()

    def _reload_or_restore(self, before: bytes | None) -> None:
        try:
            self._reload()
        except Exception as exc:  # whatever failed, web.csv must match what is on air
            self._put_back(before)
            log.error("Reading dictionary change undone: %s", exc)
            problems = exc.problems if isinstance(exc, ConfigError) else [str(exc)]
            raise _refusal("辞書を作り直せなかったため、変更を取り消しました"
                           "（放送には前の辞書を使い続けます）",
                           [self._short(p) for p in problems]) from exc

    def _put_back(self, before: bytes | None) -> None:
        if before is None:
            self.path.unlink(missing_ok=True)
        else:
            tmp = self.path.with_name(f".{WEB_CSV}.{os.getpid()}.restore")
            write_synced(tmp, before)
            os.replace(tmp, self.path)
        fsync_dir(self.folder)

    def _short(self, problem: str, tmp: Path | None = None) -> str:
        """A problem without the folder; web.csv's own "file:line: " is dropped (staff
        never see that file)."""
        if tmp is not None:
            problem = problem.replace(str(tmp), str(self.path))
        own = f"{self.path}:"
        if problem.startswith(own):
            problem = problem[len(own):].partition(": ")[2] or problem
        return problem.replace(f"{self.folder}{os.sep}", "")


def not_editable(word: Word) -> str:
    if word.kind == AREA:
        return (f"「{word.surface}」は地区名リスト（{word.file}）の単語です。読みを変えるには、"
                "同じ表記で新しく登録してください（登録した読みが優先されます）")
    return (f"「{word.surface}」は {word.file} の単語です。このページでは"
            "変更できません（ファイルを手で編集してください）")


def word_of(entry: Entry) -> Word:
    return Word(entry.surface, entry.pronunciation, entry.accent_type, entry.priority,
                entry.file, entry.line)


def _fields(entry: Entry) -> tuple[str, str, int, int]:
    return entry.surface, entry.pronunciation, entry.accent_type, entry.priority
