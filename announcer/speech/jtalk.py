"""Import pyopenjtalk against Debian's dictionary, never downloading anything.

pyopenjtalk reads ``OPEN_JTALK_DICT_DIR`` at import and, when that is unset or missing,
tries to download a dictionary from the internet. The station PC may be offline, so we
point it at the ``open-jtalk-mecab-naist-jdic`` package and refuse to start without it.
"""

import os
from pathlib import Path

from announcer.core.errors import SpeechError

DEBIAN_DICT_DIR = "/var/lib/mecab/dic/open-jtalk/naist-jdic"
DICT_PACKAGE = "open-jtalk-mecab-naist-jdic"


def dict_dir() -> Path:
    """The Open JTalk system dictionary in use; raises SpeechError naming the package."""
    path = Path(os.environ.get("OPEN_JTALK_DICT_DIR") or DEBIAN_DICT_DIR)
    if not (path / "sys.dic").is_file():
        raise SpeechError(
            f"Open JTalk の辞書が見つかりません ({path})。"
            f"`sudo apt-get install {DICT_PACKAGE}` でインストールしてください"
        )
    return path


def import_pyopenjtalk():
    """Return the pyopenjtalk module, bound to the local dictionary."""
    os.environ["OPEN_JTALK_DICT_DIR"] = str(dict_dir())
    import pyopenjtalk

    return pyopenjtalk
