"""AquesTalk-style accent notation from Open JTalk's NJD features.

Accent phrases are joined by ``/`` (``、`` where Open JTalk pauses); ``'`` follows the
accent nucleus. A flat (平板) phrase carries ``'`` after its last mora, as in
VOICEVOX's notation, so every phrase has exactly one mark.
"""

_SMALL = set("ァィゥェォャュョヮ")


def morae(kana: str) -> list[str]:
    """Split katakana into morae: small kana attach to the preceding one."""
    out: list[str] = []
    for ch in kana:
        if ch in _SMALL and out:
            out[-1] += ch
        else:
            out.append(ch)
    return out


def _phrase(kana: str, acc: int) -> str:
    m = morae(kana)
    nucleus = acc if 0 < acc <= len(m) else len(m)
    return "".join(m[:nucleus]) + "'" + "".join(m[nucleus:])


def notation(features: list[dict]) -> str:
    """Render features as e.g. ``モーカ'シノ/イガシラコ'ーエンデ``."""
    parts: list[str] = []  # phrases, and "、" where Open JTalk pauses
    kana, acc = "", 0
    for f in features:
        if f["mora_size"] == 0:  # punctuation
            if kana:
                parts.append(_phrase(kana, acc))
                kana = ""
            if parts and parts[-1] != "、":
                parts.append("、")
            continue
        if kana and f["chain_flag"] != 1:
            parts.append(_phrase(kana, acc))
            kana = ""
        if not kana:
            acc = int(f["acc"])
        kana += f["pron"].replace("’", "")
    if kana:
        parts.append(_phrase(kana, acc))
    while parts and parts[-1] == "、":
        parts.pop()
    out = ""
    for part in parts:
        sep = "/" if out and part != "、" and not out.endswith("、") else ""
        out += sep + part
    return out


def first_phrase(features: list[dict], min_head: int, min_total: int) -> int | None:
    """Index of the feature that starts the first accent phrase after at least
    ``min_head`` morae, when the whole has more than ``min_total`` morae and at least
    two morae follow; None otherwise. Punctuation never starts the second piece."""
    total = sum(f["mora_size"] for f in features)
    if total <= min_total:
        return None
    morae = 0
    for i, f in enumerate(features):
        if i and f["mora_size"] and f["chain_flag"] != 1 and morae >= min_head:
            return i if total - morae >= 2 else None
        morae += f["mora_size"]
    return None
