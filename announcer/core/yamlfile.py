"""YAML read as a node tree with line numbers, and a validator that collects problems.

Validators work on nodes rather than constructed Python values so every problem can
say ``file:line: key: message``, and so scalars keep the text the user typed (YAML 1.1
would otherwise turn an unquoted ``18:30`` into the integer 1110).
"""

import difflib
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from announcer.core.errors import ConfigError

NULL_TAG = "tag:yaml.org,2002:null"

# PyYAML's own words are English; these add what a staff member should do.
_HINTS = (
    ("'\\t'", "字下げにはタブではなく半角スペースを使ってください"),
    ("mapping values are not allowed", "値に「: 」を含むときは値を \"…\" で囲んでください"),
)


class Invalid(Exception):
    """A converter's complaint about one node; the validator turns it into one problem."""


def read_node(path: Path) -> Node | None:
    """Compose the single YAML document in ``path``; None when the file is empty.

    Raises ConfigError with one problem when the file is missing, unreadable, not
    UTF-8 or not valid YAML. The path is shown as given.
    """
    label = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{label}: ファイルがありません") from None
    except OSError as e:
        raise ConfigError(f"{label}: 読み込めません: {e.strerror}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ConfigError(f"{label}:{line}: 文字コードを UTF-8 にして保存してください") from None
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 1
        raise ConfigError(f"{label}:{line}: {_syntax_message(str(e.problem))}") from None
    except yaml.reader.ReaderError as e:
        line = text.count("\n", 0, e.position) + 1
        raise ConfigError(f"{label}:{line}: 使えない文字が含まれています") from None


def _syntax_message(problem: str) -> str:
    for needle, hint in _HINTS:
        if needle in problem:
            return f"YAML の書き方に誤りがあります: {hint}（{problem}）"
    return f"YAML の書き方に誤りがあります（{problem}）"


def line_of(node: Node | None) -> int:
    return node.start_mark.line + 1 if node is not None else 1


def is_null(node: Node | None) -> bool:
    return node is None or (isinstance(node, ScalarNode) and node.tag == NULL_TAG)


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """The closest of ``choices`` to ``word``, if any is close enough."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


class Problems:
    """Collects problems, each formatted ``file:line: key: message``."""

    def __init__(self, label: str):
        self.label = label
        self._found: list[tuple[int, str]] = []

    @property
    def items(self) -> list[str]:
        """Every problem so far, in the order of the file's lines."""
        return [message for _, message in sorted(self._found, key=lambda found: found[0])]

    def add(self, node: Node | None, key: str, message: str) -> None:
        line = line_of(node)
        where = f"{self.label}:{line}"
        self._found.append((line, f"{where}: {key}: {message}" if key else f"{where}: {message}"))

    def count(self) -> int:
        return len(self._found)

    def convert(self, node: Node, key: str, convert: Callable[[Node], Any], default=None):
        """``convert(node)``, or ``default`` after recording the converter's complaint."""
        try:
            return convert(node)
        except Invalid as e:
            self.add(node, key, str(e))
            return default

    def raise_if_any(self) -> None:
        if self.items:
            raise ConfigError(self.items)


class Section:
    """A YAML mapping under validation, with its keys checked against ``known``.

    Getters never raise: they record a problem and return the default, so one pass
    reports every problem in a file. ``key`` is the dotted path shown in messages.
    """

    def __init__(self, node: Node | None, key: str, problems: Problems, known: Iterable[str]):
        self.node = node
        self.key = key
        self.problems = problems
        self.known = tuple(known)
        self.values: dict[str, Node] = {}
        if is_null(node):
            return
        if not isinstance(node, MappingNode):
            problems.add(node, key, "「キー: 値」の形で書いてください")
            return
        for key_node, value_node in node.value:
            self._add_key(key_node, value_node)

    def _add_key(self, key_node: Node, value_node: Node) -> None:
        name = key_node.value if isinstance(key_node, ScalarNode) else str(key_node.value)
        if name not in self.known:
            self.problems.add(key_node, self.sub(name), unknown_key_message(name, self.known))
        elif name in self.values:
            first = line_of(self.values[name])
            self.problems.add(key_node, self.sub(name), f"キーが重複しています（{first} 行目にもあります）")
        else:
            self.values[name] = value_node

    def sub(self, name: str) -> str:
        return f"{self.key}.{name}" if self.key else name

    def node_of(self, name: str) -> Node | None:
        """The value node of ``name``; None when absent or null."""
        node = self.values.get(name)
        return None if is_null(node) else node

    def get(self, name: str, convert: Callable[[Node], Any], default=None, *,
            required: bool = False, nullable: bool = False):
        """The converted value of ``name``.

        Absent → ``default``. Null → None if ``nullable`` else ``default`` (a blank
        value means "use the default"). ``required`` makes absent or null a problem.
        """
        node = self.values.get(name)
        if is_null(node):
            if required:
                self.problems.add(node or self.node, self.sub(name), "この項目は省略できません。書いてください")
            elif node is not None and nullable:
                return None
            return default
        return self.problems.convert(node, self.sub(name), convert, default)

    def section(self, name: str, known: Iterable[str]) -> "Section":
        return Section(self.values.get(name), self.sub(name), self.problems, known)


def unknown_key_message(name: str, known: Iterable[str]) -> str:
    known = list(known)
    if "\u3000" in name:
        return "全角スペースが含まれています。字下げは半角スペースで書いてください"
    guess = suggest(name, known)
    if guess:
        return f'不明なキー "{name}" です（"{guess}" の間違いではありませんか？）'
    return f'不明なキー "{name}" です（使えるキー: {", ".join(known)}）'


# --- converters: Node -> value, raising Invalid ------------------------------------

def construct(node: Node) -> Any:
    """The plain Python value of ``node`` (YAML 1.1 safe types)."""
    return SafeConstructor().construct_object(node, deep=True)


def text(node: Node) -> str:
    """A non-empty string; any scalar is taken as the text the user typed."""
    if not isinstance(node, ScalarNode):
        raise Invalid("文字列で書いてください")
    if not node.value.strip():
        raise Invalid("何も書かれていません。書いてください")
    return node.value


def preset(node: Node) -> str:
    """A name looked up in a directory (a voice preset): no path separators, no dot files."""
    name = text(node)
    if "/" in name or "\\" in name or name.startswith("."):
        raise Invalid(f'名前に「/」や先頭の「.」は使えません: "{name}"')
    return name


def boolean(node: Node) -> bool:
    value = construct(node) if isinstance(node, ScalarNode) else None
    if not isinstance(value, bool):
        raise Invalid(f"true か false で書いてください: {_shown(node)}")
    return value


def integer(lo: int, hi: int) -> Callable[[Node], int]:
    def convert(node: Node) -> int:
        value = construct(node) if isinstance(node, ScalarNode) else None
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid(f"整数で書いてください: {_shown(node)}")
        return _in_range(value, lo, hi)
    return convert


def number(lo: float, hi: float) -> Callable[[Node], float]:
    def convert(node: Node) -> float:
        value = construct(node) if isinstance(node, ScalarNode) else None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise Invalid(f"数で書いてください: {_shown(node)}")
        return float(_in_range(value, lo, hi))
    return convert


def choice(options: Iterable[str]) -> Callable[[Node], str]:
    options = tuple(options)

    def convert(node: Node) -> str:
        value = text(node)
        if value not in options:
            guess = suggest(value, options)
            hint = f'"{guess}" の間違いではありませんか？' if guess else "使える値: " + ", ".join(options)
            raise Invalid(f'"{value}" は使えません（{hint}）')
        return value
    return convert


def items(node: Node) -> list[Node]:
    """The items of a list; a single scalar counts as a list of one."""
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, ScalarNode):
        return [node]
    raise Invalid("リスト（[a, b] または「- 」の行）で書いてください")


def _in_range(value, lo, hi):
    if not lo <= value <= hi:
        raise Invalid(f"{lo} から {hi} までの値にしてください: {value}")
    return value


def _shown(node: Node) -> str:
    return f'"{node.value}"' if isinstance(node, ScalarNode) else "（リストや表）"
