"""What every staff page's "試聴" (preview) shares: how much of a script a preview reads,
and the one slot that lets a single preview render at a time.

The emergency form, the notice form and the reading dictionary all take the same slot,
so previews queue behind each other instead of competing for synthesis with a bulletin
that is going on air.
"""

import threading

from flask import current_app

PREVIEW_CHARS = 400  # the preview reads the start of the script: enough to hear mistakes
PREVIEW_WAIT = 20.0  # seconds a preview waits for the one preview slot


def preview_text(text: str) -> str:
    """The first PREVIEW_CHARS characters, cut after a sentence where there is one,
    and never inside a ``{漢字|ヨミ}``."""
    if len(text) <= PREVIEW_CHARS:
        return text
    head = text[:PREVIEW_CHARS]
    if head.rfind("{") > head.rfind("}"):
        head = head[:head.rfind("{")]
    end = max(head.rfind("。"), head.rfind("\n"))
    return head[:end + 1] if end >= PREVIEW_CHARS // 2 else head


def preview_slot() -> threading.BoundedSemaphore:
    """The app's one preview slot: acquire it (with a timeout) around rendering."""
    return current_app.extensions.setdefault("announcer.preview", threading.BoundedSemaphore(1))
