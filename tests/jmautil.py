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


# The items the tests air or hold (default policy, areas 0920900 / quake area 311).
def landslide_auto() -> bytes:   # VPWW56 レベル４土砂災害危険警報 → auto
    return for_mooka("15_16_01_241031_VPWW56.xml")


def storm_approve() -> bytes:    # VPWW58 暴風警報 → approve
    return for_mooka("15_16_04_241226_VPWW58.xml")


def withdrawal_of(data: bytes) -> bytes:  # 取消 of the same series, a minute later
    return variant(data, info_type="取消", date_time="2020-06-22T14:01:00Z")


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


def atom(entries: list[str]) -> bytes:
    """An Atom feed listing ``entries`` (links), newest first as JMA does."""
    rows = "".join(
        f"<entry><title>気象警報・注意報</title><id>urn:uuid:{i}</id>"
        f"<updated>2026-01-01T00:00:00Z</updated><author><name>気象庁</name></author>"
        f'<link type="application/xml" href="{url}"/><content type="text">x</content></entry>'
        for i, url in enumerate(reversed(entries)))
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

    def set_feed(self, path: str, links: list[str]) -> str:
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
