"""Test material for announcer.jma: the official samples (../shared/jma/samples, or a
copy next to the repo), variants made from them for 真岡市, hostile files, and a local
HTTP server that serves Atom feeds and messages (nothing reaches the internet)."""

import datetime as dt
import email.utils
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from announcer.core.clock import TOKYO
from tests.conftest import REPO

SAMPLES = next(p for p in (REPO.parent.parent / "shared" / "jma" / "samples",
                           Path("/work/shared/jma/samples")) if p.is_dir())
MORE = SAMPLES.parent / "more-samples"
_DT = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(Z|[+-]\d\d:\d\d)")
MOOKA = ("<Name>真岡市</Name>\n<Code>0920900</Code>")


def sample(name: str) -> bytes:
    folder = SAMPLES if (SAMPLES / name).exists() else MORE
    return (folder / name).read_bytes()


def now() -> dt.datetime:
    return dt.datetime.now(TOKYO).replace(microsecond=0)


def at(data: bytes, when: dt.datetime | None = None) -> bytes:
    """The message moved in time: every date-time in it shifted alike, so that
    Control/DateTime is ``when`` (default: now). Validity and origin times keep their
    distance to it."""
    text = data.decode()
    first = re.search(r"<DateTime>([^<]+)</DateTime>", text).group(1)
    delta = (when or now()) - _iso(first)

    def shift(m: re.Match) -> str:
        t = _iso(m.group(0)) + delta
        if m.group(2) == "Z":
            return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return t.astimezone(_iso(m.group(0)).tzinfo).isoformat()
    return _DT.sub(shift, text).encode()


def _iso(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def edit(data: bytes, *pairs: tuple[str, str], count: int = -1) -> bytes:
    """Replace texts in a message (area names and codes, statuses, titles)."""
    text = data.decode()
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new, count)
    return text.encode()


def for_mooka(name: str, city: str = "稚内市", code: str = "0121400") -> bytes:
    """A sample with one municipality rewritten to 真岡市 (0920900)."""
    data = sample(name).decode()
    assert code in data, (name, code)
    return data.replace(f"<Name>{city}</Name>", "<Name>真岡市</Name>").replace(
        f"<Code>{code}</Code>", "<Code>0920900</Code>").encode()


def variant(data: bytes, **changes) -> bytes:
    """Change Control/Status, Head/InfoType or Control/DateTime of a message."""
    text = data.decode()
    if "status" in changes:
        text = text.replace("<Status>通常</Status>", f"<Status>{changes['status']}</Status>", 1)
    if "info_type" in changes:
        text = text.replace("<InfoType>発表</InfoType>",
                            f"<InfoType>{changes['info_type']}</InfoType>", 1)
    if "date_time" in changes:
        start = text.index("<DateTime>") + len("<DateTime>")
        text = text[:start] + changes["date_time"] + text[text.index("</DateTime>"):]
    return text.encode()


def item_edit(data: bytes, code: str, *pairs: tuple[str, str]) -> bytes:
    """Replace texts inside the Body items of one area code only (its kinds' names,
    statuses, LastKinds), leaving every other area as JMA wrote it."""
    text = data.decode()
    start = text.index("<Body")
    body = text[start:]

    def one(m: re.Match) -> str:  # the items of that code that have the first text
        block = m.group(0)
        if f"<Code>{code}</Code>" not in block or pairs[0][0] not in block:
            return block
        for old, new in pairs:
            block = block.replace(old, new)
        return block
    edited = re.sub(r"<Item>.*?</Item>", one, body, flags=re.S)
    assert edited != body, code
    return (text[:start] + edited).encode()


# The items the tests air or hold (default policy, areas 0920900 / quake area 311), each
# an official sample edited as its name says and moved to ``when`` (default: now).
def landslide_auto(when=None) -> bytes:   # VPWW56 レベル４土砂災害危険警報 → auto
    return at(for_mooka("15_16_01_241031_VPWW56.xml"), when)


def storm_approve(when=None) -> bytes:    # VPWW58 暴風警報 → approve
    return at(for_mooka("15_16_04_241226_VPWW58.xml"), when)


def storm_continued(when=None) -> bytes:  # the same series later: 暴風警報 継続 only
    return item_edit(storm_approve(when), "0920900", ("<Status>発表</Status>",
                                                      "<Status>継続</Status>"))


def storm_lifted(when=None) -> bytes:     # the same series: 暴風警報 解除
    return item_edit(storm_approve(when), "0920900", ("<Status>発表</Status>",
                                                      "<Status>解除</Status>"),
                     ("<Name>強風注意報</Name>", "<Name>暴風警報</Name>"))


def special_h27(when=None) -> bytes:      # VPWW54 大雨特別警報 for 真岡市 (was 新宿区)
    return at(for_mooka("15_14_01_170216_VPWW54.xml", "新宿区", "1310400"), when)


def special_r06(when=None) -> bytes:      # VPWW55 レベル５大雨特別警報 for 真岡市
    return at(edit(for_mooka("15_16_03_241226_VPWW55.xml"),
                   ("レベル４大雨危険警報", "レベル５大雨特別警報")), when)


def heavy_rain_r06(level: int, when=None) -> bytes:  # VPWW55, 真岡市 at level 3 or 4
    name = {3: "レベル３大雨警報", 4: "レベル４大雨危険警報"}[level]
    return at(edit(for_mooka("15_16_03_241226_VPWW55.xml"), ("レベル４大雨危険警報", name)),
              when)


def landslide_vxww50(when=None) -> bytes:  # VXWW50 レベル４土砂災害危険警報, 真岡市 (was 小田原市)
    return at(for_mooka("17_04_01_250630_VXWW50.xml", "小田原市", "1420600"), when)


def mashiko(when=None) -> bytes:  # VPWW54: 益子町 (was 千代田区) 大雨警報・洪水警報 発表,
    data = for_mooka("15_12_02_161130_VPWW54.xml", "中央区", "1310200")  # 真岡市 注意報 継続
    return at(edit(data, ("<Name>千代田区</Name>", "<Name>益子町</Name>"),
                   ("<Code>1310100</Code>", "<Code>0934200</Code>")), when)


QUAKE_EVENT = "20080614084350"


def quake_flash(when=None) -> bytes:  # VXSE51, 栃木県南部 震度5弱 (was 3), the event of
    data = edit(sample("32-35_07_04_100915_VXSE51.xml"),  # quake_detail; 「０５時０７分」
                ("<EventID>20090811050711", f"<EventID>{QUAKE_EVENT}"),
                ("<Name>栃木県南部</Name><Code>311</Code><MaxInt>3<",
                 "<Name>栃木県南部</Name><Code>311</Code><MaxInt>5-<"))
    return at(data, when)


def quake_of_its_own(n: int, when=None) -> bytes:
    """A 震度5弱 震度速報 (auto) of an earthquake of its own: one event cuts in once, so
    every ``n`` is another event that airs."""
    return edit(quake_flash(when), (f"<EventID>{QUAKE_EVENT}", f"<EventID>2026120700{n:04d}"))


def quake_detail(serial: int, when=None) -> bytes:  # VXSE53 serial 1–3, 栃木県南部 5弱
    data = edit(sample(f"32-35_06_0{serial + 2}_240613_VXSE53.xml"),
                ("<Name>栃木県南部</Name><Code>311</Code><MaxInt>4<",
                 "<Name>栃木県南部</Name><Code>311</Code><MaxInt>5-<"))
    return at(data, when)


def tornado_north(when=None) -> bytes:  # VPHW50 for 栃木県北部 only: 南部 and 真岡市 なし
    data = edit(sample("19_08_01_150916_VPHW50.xml"),
                ("<Code>110020</Code>", "<Code>090020</Code>"),
                ("<Code>110030</Code>", "<Code>090010</Code>"),
                ("<Code>1120700</Code>", "<Code>0920900</Code>"))
    return at(data, when)


def tornado_south(when=None) -> bytes:  # VPHW50 for 栃木県南部 (was 埼玉県南部)
    return at(edit(sample("19_08_01_150916_VPHW50.xml"), ("<Code>110010</Code>",
                                                          "<Code>090010</Code>")), when)


def rain_vpoa50(when=None) -> bytes:  # 記録的短時間大雨情報 for 栃木県南部 (was 石狩地方)
    return at(edit(sample("18_03_01_190412_VPOA50.xml"), ("<Code>016010</Code>",
                                                          "<Code>090010</Code>")), when)


def rain_vpbs50(when=None) -> bytes:  # the same observation as 気象防災速報（記録的短時間大雨）
    return at(edit(sample("82_01_02_250630_VPBS50.xml"),
                   ("<Code>013010</Code>", "<Code>090010</Code>"),
                   ("１３時１０分", "１９時４０分")), when)


def withdrawal_of(data: bytes, when=None) -> bytes:  # 取消 of the same series
    return at(variant(data, info_type="取消"), when)


def hostile() -> dict[str, bytes]:
    base = sample("15_16_01_241031_VPWW56.xml")
    laughs = "".join(f'<!ENTITY l{i} "{"&l%d;" % (i - 1) * 10}">' for i in range(1, 10))
    return {
        "bomb.xml": (f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY l0 "ha">{laughs}]>'
                     '<Report xmlns="http://xml.kishou.go.jp/jmaxml1/">&l9;</Report>').encode(),
        "xxe.xml": ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                    '<Report xmlns="http://xml.kishou.go.jp/jmaxml1/">&x;</Report>').encode(),
        "truncated.xml": for_mooka("15_16_01_241031_VPWW56.xml")[:6000],
        "wrongns.xml": base.replace(b'xmlns="http://xml.kishou.go.jp/jmaxml1/"',
                                    b'xmlns="http://example.com/not-jma/"'),
        "notjma.xml": b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title></channel></rss>',
    }


def huge(size: int = 50 * 1024 * 1024) -> bytes:
    head = b'<?xml version="1.0"?><Report xmlns="http://xml.kishou.go.jp/jmaxml1/"><x>'
    return head + b"a" * (size - len(head) - 13) + b"</x></Report>"


def atom(entries: list) -> bytes:
    """An Atom feed listing ``entries`` (links, or (link, title, author)), newest first as
    JMA does. A bare link is a 気象警報・注意報 of 宇都宮地方気象台 (a kind and an office the
    station wants, so it is fetched)."""
    def row(i, entry):
        url, title, author = entry if isinstance(entry, tuple) else (
            entry, "気象警報・注意報（Ｒ０６）（暴風）", "宇都宮地方気象台")
        return (f"<entry><title>{title}</title><id>urn:uuid:{i}</id>"
                f"<updated>2026-01-01T00:00:00Z</updated><author><name>{author}</name></author>"
                f'<link type="application/xml" href="{url}"/><content type="text">x</content>'
                f"</entry>")
    rows = "".join(row(i, e) for i, e in enumerate(reversed(entries)))
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
            f'lang="ja"><title>高頻度（随時）</title><id>urn:test</id>'
            f'<updated>2026-01-01T00:00:00Z</updated>{rows}</feed>').encode()


class FeedServer:
    """Serves ``files`` (path -> bytes) on 127.0.0.1; a feed path keeps a Last-Modified
    that changes with its content, and answers If-Modified-Since with 304."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.modified: dict[str, str] = {}
        self.hits: list[tuple[str, float, int]] = []  # (path, time, status)
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer._serve(self)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def put(self, path: str, data: bytes) -> str:
        with self._lock:
            self.files[path] = data
            stamp = time.time()
            if path in self.modified:  # a new version is always "later" than the last
                stamp = max(stamp, email.utils.parsedate_to_datetime(
                    self.modified[path]).timestamp() + 1)
            self.modified[path] = email.utils.formatdate(stamp, usegmt=True)
        return self.url(path)

    def set_feed(self, path: str, links: list) -> str:
        return self.put(path, atom(links))

    def count(self, path: str) -> int:
        with self._lock:
            return sum(1 for p, _, _ in self.hits if p == path)

    def _serve(self, h) -> None:
        with self._lock:
            data = self.files.get(h.path)
            modified = self.modified.get(h.path)
            status = 404 if data is None else 200
            if data is not None and h.headers.get("If-Modified-Since") == modified:
                status = 304
            self.hits.append((h.path, time.time(), status))
        h.send_response(status)
        if status == 200:
            h.send_header("Content-Type", "application/xml")
            h.send_header("Content-Length", str(len(data)))
            h.send_header("Last-Modified", modified)
        else:
            h.send_header("Content-Length", "0")
        h.end_headers()
        if status == 200:
            try:
                h.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
