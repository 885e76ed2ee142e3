"""scripts/setup.sh decides when to install, with stand-ins for pip and dpkg: the test
set-up includes the station's, so the station after the tests installs nothing again."""

import os
import shutil
import stat
import subprocess

from tests.conftest import REPO


def stand_in(path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + body + "\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def clone(tmp_path):
    """A checkout with setup.sh and pyproject.toml; .venv's pip only writes what it was
    asked to a log; every Debian package counts as installed."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "setup.sh", tmp_path / "scripts" / "setup.sh")
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    venv = tmp_path / ".venv" / "bin"
    venv.mkdir(parents=True)
    stand_in(venv / "python", "exit 0")
    stand_in(venv / "pip", f'echo "$*" >> {tmp_path / "pip.log"}')
    tools = tmp_path / "tools"
    tools.mkdir()
    stand_in(tools / "dpkg-query", 'printf "install ok installed"')
    return tmp_path


def setup(folder, *args) -> list[str]:
    """Run setup.sh; returns the pip installs it made (not the pip upgrade)."""
    log = folder / "pip.log"
    log.unlink(missing_ok=True)
    env = dict(os.environ, PATH=f"{folder / 'tools'}:{os.environ['PATH']}")
    result = subprocess.run(["bash", str(folder / "scripts" / "setup.sh"), *args], env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = log.read_text().splitlines() if log.exists() else []
    return [line for line in lines if "--upgrade pip" not in line]


def test_the_station_after_the_tests_installs_nothing(tmp_path):
    folder = clone(tmp_path)
    assert setup(folder, "--test") == ["install -q -e .[test]"]  # scripts/test.sh
    assert setup(folder) == []                                    # scripts/run-station.sh
    assert setup(folder, "--test") == []


def test_the_tests_after_the_station_add_their_extras_and_a_change_reinstalls(tmp_path):
    folder = clone(tmp_path)
    assert setup(folder) == ["install -q -e ."]
    assert setup(folder) == []
    assert setup(folder, "--test") == ["install -q -e .[test]"]
    with open(folder / "pyproject.toml", "a", encoding="utf-8") as f:
        f.write("\n# a new dependency\n")
    assert setup(folder) == ["install -q -e ."]
    assert setup(folder, "--test") == ["install -q -e .[test]"]
