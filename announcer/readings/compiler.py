"""Compiling the dictionary for Open JTalk, in child processes.

A malformed compiled dictionary does not fail when loaded: it crashes Open JTalk later,
in the middle of a bulletin. So compiling happens in a child process, the result is tried
in another child, and only a dictionary that survived is moved onto the live path.
"""

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from announcer.core.errors import ConfigError, SpeechError
from announcer.readings.rows import (DEFAULT_PRIORITY, Entry, dict_surface, load_entries,
                                     mora_count)

log = logging.getLogger(__name__)

# MeCab word cost by priority (lower cost wins). VOICEVOX maps priority 0..10 onto
# percentiles of the system dictionary's 固有名詞 costs, with 5 at the median (8609).
# At the median the system's own readings still win here (真岡 → モオカ, 小山 → コヤマ,
# 下野 → ゲヤ), so our 1..5 take VOICEVOX's 5..9 and 6..10 step down to its 10.
PRIORITY_COSTS = (14176, 8609, 7328, 6048, 4768, 3488, 2593, 1698, 803, -93, -988)
# Place names: their connection costs let 市, 町, 駅 attach with the right accent.
POS = "名詞,固有名詞,地域,一般"
CHILD_TIMEOUT = 120  # seconds
CHECK_SENTENCE = "本日は晴天なり。"


def priority_cost(priority: int) -> int:
    return PRIORITY_COSTS[priority]


def openjtalk_row(entry: Entry) -> str:
    surface, kana = dict_surface(entry.surface), entry.pronunciation
    return (
        f"{surface},,,{priority_cost(entry.priority)},{POS},*,*,{surface},{kana},{kana},"
        f"{entry.accent_type}/{mora_count(kana)},*"
    )


def to_openjtalk_rows(entries: Iterable[Entry]) -> str:
    """MeCab/Open JTalk user dictionary CSV, sorted so equal content gives equal text."""
    return "".join(f"{row}\n" for row in sorted(openjtalk_row(e) for e in entries))


def dictionary_version(entries: Iterable[Entry]) -> str:
    """Short hash of what Open JTalk will see; changes whenever a reading could change."""
    return hashlib.sha256(to_openjtalk_rows(entries).encode("utf-8")).hexdigest()[:12]


# -- compiling, in child processes ----------------------------------------------------------


def compile_dictionary(csv_paths: Iterable[Path], out_path: Path) -> str:
    """Compile the dictionary files to ``out_path`` and return their version.

    The new dictionary replaces ``out_path`` atomically, and only after a separate process
    loaded it and read every word without crashing. On any failure ``out_path`` is left as
    it was and ConfigError (a word's fault, with ``file:line``) or SpeechError (the tools'
    fault) is raised. Loading it into pyopenjtalk is the speech worker's job.
    """
    from announcer.speech.jtalk import dict_dir

    csv_paths = list(csv_paths)
    entries = load_entries(csv_paths)
    if not entries:
        # mecab-dict-index segfaults on an empty CSV
        names = ", ".join(str(p) for p in csv_paths) or "voices/dict"
        raise ConfigError(f"{names}: 辞書に単語が 1 つもありません")
    dict_dir()  # a missing system dictionary is reported here, not as a child's traceback
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".userdict-", dir=out_path.parent))
    try:
        rows, dic = work / "user.csv", work / "user.dic"
        rows.write_text(to_openjtalk_rows(entries), encoding="utf-8")
        _build(rows, dic)
        check_dictionary(dic, entries)
        os.replace(dic, out_path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    version = dictionary_version(entries)
    log.info("Compiled %d words to %s (version %s)", len(entries), out_path, version)
    return version


def _build(rows: Path, dic: Path) -> None:
    result = _run_child(["build", str(rows), str(dic)])
    if result.returncode != 0 or not dic.is_file():
        raise SpeechError(f"ユーザー辞書を作れませんでした{_why(result)}")


def check_dictionary(dic: Path, entries: list[Entry]) -> None:
    """Load ``dic`` in a child process and read every entry; raise if anything is wrong.

    A crash is blamed on the word being read; a word of priority 5 or more that does not
    come out as written is reported too (it would never be heard).
    """
    words = [dict_surface(e.surface) for e in entries]
    result = _run_child(["check", str(dic)], stdin=json.dumps(words, ensure_ascii=False))
    loaded, tried, readings = _parse_check_output(result.stdout)
    if result.returncode != 0:
        if not loaded:
            raise SpeechError(f"作ったユーザー辞書を Open JTalk が読み込めません{_why(result)}")
        if tried is None or tried >= len(entries):
            raise SpeechError(f"ユーザー辞書を入れると Open JTalk が止まります{_why(result)}")
        entry = entries[tried]
        raise ConfigError(
            f"{entry.source}: この単語で Open JTalk が異常終了しました"
            f"（辞書は入れ替えていません）: {entry.surface}"
        )
    problems = [
        f"{e.source}: 辞書に入れても「{e.surface}」が {e.pronunciation} と読まれません"
        f"（{readings.get(i)}）。優先度を上げてください"
        for i, e in enumerate(entries)
        if e.priority >= DEFAULT_PRIORITY and readings.get(i) != e.pronunciation
    ]
    if problems:
        raise ConfigError(problems)


def _parse_check_output(stdout: str) -> tuple[bool, int | None, dict[int, str]]:
    """(dictionary loaded, index of the last word tried, readings by index)."""
    loaded, tried, readings = False, None, {}
    for line in stdout.splitlines():
        kind, *fields = line.split("\t")
        if kind == "loaded":
            loaded = True
        elif kind == "try" and len(fields) == 1:
            tried = int(fields[0])
        elif kind == "read" and len(fields) == 2:
            readings[int(fields[0])] = fields[1]
    return loaded, tried, readings


def _run_child(args: list[str], stdin: str = "") -> subprocess.CompletedProcess:
    root = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, PYTHONPATH=path)
    code = "from announcer.readings.compiler import _child_main; _child_main()"
    try:
        return subprocess.run(
            [sys.executable, "-c", code, *args],
            input=stdin, capture_output=True, text=True, env=env, timeout=CHILD_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        raise SpeechError(f"ユーザー辞書の処理が {CHILD_TIMEOUT} 秒で終わりませんでした") from None


def _why(result: subprocess.CompletedProcess) -> str:
    code = result.returncode
    if code < 0 or code == 139:
        return f"（Open JTalk が異常終了しました: 終了コード {code}）"
    last = [line for line in result.stderr.splitlines() if line.strip()][-1:]
    return f"（{last[0].strip()}）" if last else f"（終了コード {code}）"


def _child_main(argv: list[str] | None = None) -> None:
    """Entry point of the child processes: ``build CSV DIC`` or ``check DIC`` (words on stdin)."""
    from announcer.speech.jtalk import import_pyopenjtalk

    command, *args = sys.argv[1:] if argv is None else argv
    pyopenjtalk = import_pyopenjtalk()
    if command == "build":
        pyopenjtalk.mecab_dict_index(args[0], args[1])
        return
    words = json.loads(sys.stdin.read())
    pyopenjtalk.update_global_jtalk_with_user_dict(args[0])
    print("loaded", flush=True)
    for index, surface in enumerate(words):
        print(f"try\t{index}", flush=True)
        kana = pyopenjtalk.g2p(surface, kana=True)
        pyopenjtalk.extract_fullcontext(surface)
        print(f"read\t{index}\t{kana}", flush=True)
    print(f"try\t{len(words)}", flush=True)
    pyopenjtalk.extract_fullcontext(CHECK_SENTENCE)
