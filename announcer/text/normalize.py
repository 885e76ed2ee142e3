"""Rewrite written broadcast Japanese into text Open JTalk reads as an announcer would.

Out of the box Open JTalk reads ``14:00`` as ジューヨン：ゼロゼロ, ``12/3`` as
ジューニ／サン, keeps ``～`` silent and spells URLs letter by letter. Every function here
is a pure ``str -> str`` rewrite; nothing imports pyopenjtalk, so the web and the
scheduler can preview normalized text without loading the synthesizer.

Inline reading overrides ``{表記|ヨミ}`` are passed through byte for byte.
"""

import re
import unicodedata

URL_PHRASE = "ホームページ"
EMAIL_PHRASE = "メールアドレス"

_OVERRIDE = re.compile(r"\{[^{}]*\|[^{}]*\}")

# Full-width digits, Latin letters and the symbols our patterns look at. ～｛｜｝（）！？
# stay as written: they carry meaning for the range rules, the override syntax and the
# sentence punctuation announcers pause on.
_WIDE_TO_ASCII = {c: c - 0xFEE0 for c in range(0xFF10, 0xFF1A)}
_WIDE_TO_ASCII |= {c: c - 0xFEE0 for c in range(0xFF21, 0xFF3B)}
_WIDE_TO_ASCII |= {c: c - 0xFEE0 for c in range(0xFF41, 0xFF5B)}
_WIDE_TO_ASCII |= {ord(c): ord(c) - 0xFEE0 for c in "：／％＋＠＆＝＿＃"}
_WIDE_TO_ASCII |= {ord("－"): "-", ord("−"): "-"}

DASHES = "\\-‐‑–—―ー"
TILDES = "～〜~∼"
_DIGIT_KANA = "ゼロ イチ ニー サン ヨン ゴー ロク ナナ ハチ キュー".split()
_NUM = r"\d+(?:\.\d+)?"


def normalize(text: str, *, url_phrase: str = URL_PHRASE) -> str:
    """Return ``text`` rewritten so that Open JTalk reads it like a radio announcer.

    Clock times, dates, weekdays, ranges, phone numbers, postal codes, units, floors and
    magnitudes become words; URLs become ``url_phrase`` and e-mail addresses
    メールアドレス. ``{表記|ヨミ}`` groups are returned unchanged. Never raises.
    """
    parts, pos = [], 0
    for match in _OVERRIDE.finditer(text):
        parts += [_normalize_plain(text[pos : match.start()], url_phrase), match.group()]
        pos = match.end()
    parts.append(_normalize_plain(text[pos:], url_phrase))
    return "".join(parts)


def _normalize_plain(text: str, url_phrase: str) -> str:
    if not text:
        return text
    text = join_lines(fold_width(text))
    text = replace_links(text, url_phrase)
    for step in _STEPS:
        text = step(text)
    return text


def fold_width(text: str) -> str:
    """Fold full-width digits, letters and number symbols, and half-width katakana."""
    text = text.translate(_WIDE_TO_ASCII)
    text = re.sub(r"(?<=[0-9A-Za-z])[，．](?=[0-9A-Za-z])", lambda m: chr(ord(m[0]) - 0xFEE0), text)
    return re.sub(r"[\uff61-\uff9f]+", lambda m: unicodedata.normalize("NFKC", m[0]), text)


def join_lines(text: str) -> str:
    """Turn line breaks into 。 so each line ends as a sentence (not twice)."""

    def replace(match: re.Match) -> str:
        before = text[match.start() - 1] if match.start() else ""
        return "" if not before or before in "。！？!?、「『（(" else "。"

    return re.sub(r"[ \t\u3000]*(?:\r\n|\r|\n)\s*", replace, text)


def read_digits(digits: str) -> str:
    """Digits one by one, as announcers read phone numbers: 0285 -> ゼロニーハチゴー."""
    return "".join(_DIGIT_KANA[int(d)] for d in digits)


# --- links -------------------------------------------------------------------------

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
_URL_BODY = r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'*+,;=%]*[A-Za-z0-9\-_~/#=&%+])?"
_TLD = r"(?:jp|com|net|org|info|biz|io|tv|fm|me|app|dev|tokyo|gov|edu)"
_URL = re.compile(
    rf"(?:https?://|www\.){_URL_BODY}"
    rf"|(?<![A-Za-z0-9.@\-])(?:[A-Za-z0-9\-]+\.)+{_TLD}(?![A-Za-z0-9\-])(?:/{_URL_BODY})?"
)


def replace_links(text: str, url_phrase: str = URL_PHRASE) -> str:
    """Replace e-mail addresses and URLs by a phrase: nobody listens to a spelled URL."""
    text = _EMAIL.sub(EMAIL_PHRASE, text)
    text = _URL.sub(lambda m: url_phrase, text)
    # 「ホームページ（https://…）」 would otherwise say the phrase twice.
    phrase = re.escape(url_phrase)
    return re.sub(rf"{phrase}\s*[（(]\s*{phrase}\s*[)）]", lambda m: url_phrase, text)


# --- phone numbers and postal codes -------------------------------------------------

_SEP = rf"\s*[{DASHES}(（)）]\s*"
_PHONE = re.compile(
    rf"(?<![\d\-])(?P<open>[(（]\s*)?(?P<a>0\d{{1,4}})(?P<s1>{_SEP})"
    rf"(?P<b>\d{{1,4}}){_SEP}(?P<c>\d{{3,4}})(?![\d\-])"
)
_POSTAL = re.compile(rf"〒\s*(\d{{3}})\s*[{DASHES}]?\s*(\d{{4}})(?!\d)")
_TEL = re.compile(r"(?<![A-Za-z])(TEL|Tel|tel|FAX|Fax|fax)\s*[.:]?\s*(?=[(（]?0)")


def _phone(match: re.Match) -> str:
    groups = match["a"], match["b"], match["c"]
    if len("".join(groups)) not in (10, 11):
        return match[0]
    keep_open = match["open"] if match["open"] and not re.search("[)）]", match["s1"]) else ""
    return keep_open + "の、".join(read_digits(g) for g in groups)


def phone_numbers(text: str) -> str:
    """0285-82-1111 -> ゼロニーハチゴーの、ハチニーの、イチイチイチイチ; 〒 codes likewise."""
    text = _POSTAL.sub(lambda m: f"郵便番号、{read_digits(m[1])}の、{read_digits(m[2])}", text)
    text = _TEL.sub(lambda m: "電話、" if m[1].lower() == "tel" else "ファクス、", text)
    return _PHONE.sub(_phone, text)


# --- times and dates ----------------------------------------------------------------

_CLOCK = re.compile(
    r"(?<![\d:.])(?:(?<![A-Za-z])(?P<pre>AM|PM|am|pm)\s*)?(?P<h>[01]?\d|2[0-4]):(?P<m>[0-5]\d)"
    r"(?::(?P<s>[0-5]\d))?(?![\d:])(?:\s*(?P<post>AM|PM|am|pm)(?![A-Za-z]))?"
)


def _clock(match: re.Match) -> str:
    hour, minute, second = int(match["h"]), int(match["m"]), int(match["s"] or 0)
    meridiem = (match["pre"] or match["post"] or "").upper()
    words = {"AM": "午前", "PM": "午後"}.get(meridiem, "") + f"{hour}時"
    if minute or second:
        words += f"{minute}分"
    return words + (f"{second}秒" if second else "")


def clock_times(text: str) -> str:
    """14:00 -> 14時, 9:30 -> 9時30分, 18:30:15 -> 18時30分15秒, 9:30AM -> 午前9時30分."""
    return _CLOCK.sub(_clock, text)


_YMD = re.compile(r"(?<![\d/.\-])((?:19|20)\d\d)([/.\-])(\d{1,2})\2(\d{1,2})(?![\d/.\-])")
_MD = re.compile(r"(?<![\d/.])(\d{1,2})/(\d{1,2})(?![\d/])")
_WEEKDAY_ITEM = r"[月火水木金土日祝休](?:曜日?)?"
_WEEKDAY = re.compile(rf"(?<=\d日)\s*[(（]\s*({_WEEKDAY_ITEM}(?:[・,、]{_WEEKDAY_ITEM})*)\s*[)）]")
_DAYNAME = r"(?:[月火水木金土日]曜日|祝日|休日)"
# 「1日」 alone reads イチニチ (one day); as a date it must be ツイタチ.
_FIRST_DAY = re.compile(rf"(?<![\d月第])1日(?= {_DAYNAME})")


def _valid_day(month: str, day: str) -> bool:
    return 1 <= int(month) <= 12 and 1 <= int(day) <= 31


def _weekdays(match: re.Match) -> str:
    names = [{"祝": "祝日", "休": "休日"}.get(item[0], item[0] + "曜日")
             for item in re.findall(_WEEKDAY_ITEM, match[1])]
    return " " + "・".join(names)


def dates(text: str) -> str:
    """2026/12/3 -> 2026年12月3日, 12/3 -> 12月3日, 3日(木) -> 3日 木曜日.

    Only a valid month and day count as a date: 13/5 or 3/40 stay as written.
    """
    text = _YMD.sub(lambda m: f"{m[1]}年{int(m[3])}月{int(m[4])}日"
                    if _valid_day(m[3], m[4]) else m[0], text)
    text = _MD.sub(lambda m: f"{int(m[1])}月{int(m[2])}日" if _valid_day(m[1], m[2]) else m[0], text)
    text = _WEEKDAY.sub(_weekdays, text)
    return _FIRST_DAY.sub("ついたち", text)  # a weekday proves it is a date


# --- ranges and tildes -------------------------------------------------------------

_UNIT = r"(?:年|月|日|時|分|秒)"
# Atomic, so that 「12時まで」 cannot shrink to 「12時」 and gain a second まで.
_TERM = (rf"(?>(?:午前|午後)?(?:\d+{_UNIT})+|ついたち)(?> {_DAYNAME}(?:・{_DAYNAME})*)?")
_RANGE = re.compile(rf"({_TERM})\s*[{TILDES}{DASHES}]+\s*({_TERM})(?!まで)")
_UNTIL = re.compile(rf"(?:^|(?<=[\s、。（(「]))[{TILDES}]+\s*({_TERM})(?!まで)")
_ONE_DAY = re.compile(r"(?<![\d月第])1日$")
_TILDE = re.compile(rf"\s*[{TILDES}]+\s*")
_KANA = re.compile(r"[\u3041-\u309f\u30a1-\u30ff]")


def _range(match: re.Match) -> str:
    start = _ONE_DAY.sub("ついたち", match[1])
    return f"{start}から{match[2]}まで"


def _tilde(match: re.Match) -> str:
    text = match.string
    before = text[match.start() - 1] if match.start() else ""
    after = text[match.end()] if match.end() < len(text) else ""
    opener = not before or before in "、。！？!?「『（(" or match[0][0].isspace()
    if opener and not match[0][-1].isspace():
        return "、"  # a decorative opener, as in 「～みんなで守ろう～」: a pause
    if _KANA.match(before) and after in "、。！？!?」』）)" + TILDES:
        return "ー"  # drawn-out speech: よろしくね～
    return "から"


def ranges(text: str) -> str:
    """10時～12時 -> 10時から12時まで; ～12時 -> 12時まで; any other ～ is still spoken."""
    text = _RANGE.sub(_range, text)
    text = _UNTIL.sub(r"\1まで", text)
    return _TILDE.sub(_tilde, text)


# --- units, floors, magnitudes -----------------------------------------------------

_UNITS = {"hPa": "ヘクトパスカル", "mm": "ミリ", "cm": "センチ", "km": "キロ",
          "kg": "キロ", "m": "メートル", "%": "パーセント"}
_UNIT_RE = re.compile(rf"({_NUM})\s*({'|'.join(_UNITS)})(?![A-Za-z/²³])")
_CELSIUS = re.compile(rf"(?:(?<![\d.])([-+]))?({_NUM})\s*(?:℃|°C|°C|度C)")


def units(text: str) -> str:
    """25℃ -> 25度, 30mm -> 30ミリ, 60km/h -> 時速60キロ, 15m/s -> 秒速15メートル."""
    sign = {"-": "マイナス", "+": "プラス", None: ""}
    text = _CELSIUS.sub(lambda m: f"{sign[m[1]]}{m[2]}度", text)
    text = re.sub(rf"(?:時速)?({_NUM})\s*km/h(?![A-Za-z])", r"時速\1キロ", text)
    # NHK: 「最大瞬間風速25メートル」, but 「秒速15メートル」 when nothing says it is a speed.
    text = re.sub(rf"(風速|秒速)?({_NUM})\s*m/s(?![A-Za-z])",
                  lambda m: f"{m[1] or '秒速'}{m[2]}メートル", text)
    text = re.sub(rf"({_NUM})\s*mm/h(?![A-Za-z])", r"1時間に\1ミリ", text)
    return _UNIT_RE.sub(lambda m: m[1] + _UNITS[m[2]], text)


def floors_and_magnitudes(text: str) -> str:
    """B1F -> 地下1階, 2F -> 2階, M5.2 -> マグニチュード5.2."""
    text = re.sub(r"(?<![A-Za-z\d])B(\d+)F(?![A-Za-z])", r"地下\1階", text)
    text = re.sub(r"(?<![A-Za-z\d])(\d+)F(?![A-Za-z])", r"\1階", text)
    return re.sub(rf"(?<![A-Za-z])M\s?({_NUM})(?![\d.])", r"マグニチュード\1", text)


def thousands(text: str) -> str:
    """1,000 -> 1000, so a comma inside a number is not read as a pause."""
    return re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", text)


# --- JMA's written forms: zero-padded times, brackets -------------------------------

_PADDED = re.compile(r"(?<![\d.,])0+(?=\d+[日時分秒])")  # keeps one 0 of 00時
_ZERO_MINUTES = re.compile(r"(?<=\d時)0+分")
_OPENING = "【［〈《＜〔"
_CLOSING = "】］〉》＞〕"
_PAUSE_BEFORE = re.compile(r"(?<=[0-9A-Za-zぁ-ゖァ-ヺー一-鿿々])[" + _OPENING + "]")


def leading_zeros(text: str) -> str:
    """０５時０７分 → 5時7分, ０５時００分 → 5時, ０５日 → 5日, ００時 → 零時: JMA pads
    with zeros that Open JTalk would read (ゼロゴジ ゼロナナフン)."""
    text = _ZERO_MINUTES.sub("", _PADDED.sub("", text))
    return re.sub(r"(?<![\d.,])0時", "零時", text)


def brackets(text: str) -> str:
    """【概況】, ［洪水］, 〈…〉, ＜…＞: a closing bracket is a pause (Open JTalk drops these
    characters and would run the phrases together); an opening one pauses after words.
    Only the pauses made here are tidied (never one that was written)."""
    if not any(c in text for c in _OPENING + _CLOSING):
        return text
    mark = "\ue000"
    text = _PAUSE_BEFORE.sub(mark, text)
    text = re.sub(f"[{_OPENING}]", "", text)
    text = re.sub(f"[{_CLOSING}]", mark, text)
    text = re.sub(f"{mark}+", mark, text)
    text = re.sub(f"{mark}(?=[。、！？!?」』）)\\s]|$)", "", text)
    text = re.sub(f"(?:^|(?<=[。、！？!?「『（(])){mark}", "", text)
    return text.replace(mark, "、")


_STEPS = (leading_zeros, thousands, phone_numbers, clock_times, dates, ranges, units,
          floors_and_magnitudes, brackets)
