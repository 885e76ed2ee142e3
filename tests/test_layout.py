"""The tree tells the architecture: few modules at the top, none too long, and every
import arrow points down (the core uses no part, parts use lower parts, the web uses
the parts, the daemon and the CLI compose everything)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "announcer"

# Lower numbers are lower layers; an import may only point to a lower layer or stay
# inside its own package.
LAYERS = {
    "core": 0,
    "text": 1, "audio": 1, "speech": 1, "record": 1, "notices": 1, "playout": 1,
    "watch.monitor": 1, "watch.notify": 1,
    "readings": 2, "access": 2, "jma": 2, "watch": 2,
    "studio": 3,
    "publish": 3.5,  # the public site: above the studio it reads, below the station that feeds it
    "station": 4,
    "web": 5,
    "daemon": 6, "cli_records": 6, "cli": 7,
    "": 0,  # announcer/__init__.py
}


def part_of(parts: tuple[str, ...]) -> str:
    """The part a dotted path inside ``announcer`` belongs to (``watch`` holds parts)."""
    if not parts or parts[0] == "__init__":
        return ""
    if parts[0] == "watch" and len(parts) > 1 and (PACKAGE / "watch" / parts[1]).is_dir():
        return f"watch.{parts[1]}"
    return parts[0]


def module_part(path: Path) -> str:
    return part_of(path.relative_to(PACKAGE).with_suffix("").parts)


def imported_parts(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            dotted = name.split(".")
            if dotted[0] == "announcer" and len(dotted) > 1:
                yield part_of(tuple(dotted[1:]))


def test_at_most_eight_modules_at_the_top():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 8, top


def test_no_module_over_400_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert long == {}


def test_every_part_has_a_layer():
    parts = {module_part(p) for p in PACKAGE.rglob("*.py")}
    assert parts - set(LAYERS) == set()


def test_import_arrows_point_down():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        source = module_part(path)
        for target in imported_parts(path):
            if target != source and LAYERS[target] >= LAYERS[source]:
                upward.append(f"{path.relative_to(PACKAGE)} -> {target}")
    assert upward == []
