"""The speech worker's side: load the compiled dictionary into this process's Open JTalk.

Requests carry the live dictionary's path and version; a new version (a recompiled
dictionary swapped in at the same path) is loaded before the request is served.
"""

import os


class DictionaryLoader:
    def __init__(self, pyopenjtalk):
        self.jt = pyopenjtalk
        self.loaded: tuple[str, str] | None = None

    def use(self, path: str | None, version: str | None) -> None:
        if path and (path, version) != self.loaded and os.path.exists(path):
            self.jt.update_global_jtalk_with_user_dict(path)
            self.loaded = (path, version)
