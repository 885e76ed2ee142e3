"""The JMA Atom pull feeds: which entries are new, and their messages' bytes.

Rules: at most one request per feed per ``poll_seconds`` (more after errors: the wait
doubles up to ``MAX_BACKOFF``); ``If-Modified-Since`` with the feed's last
``Last-Modified``. Every request has a whole-request ``DEADLINE`` (a server that sends
one byte a second is cut off, not waited for), and each feed has its own thread (the
service's), so one feed never blocks another. Entries are filtered before anything is
fetched: only kinds the station handles (by the entry's title) from the offices that can
concern the configured areas (by its author; ``気象庁`` itself for earthquakes, volcanoes
and the national products). Each entry link is fetched from the host of the feed that
listed it only, over http(s), never by following a redirect elsewhere, and remembered
as fetched only once its message was processed (a crash in between fetches it again;
its key makes that harmless). Feeds and messages are read with a size cap and refused
when compressed or oversized; an Atom document with a DTD is refused. The poller never
raises: every problem is one log line and a later retry.
"""

import http.client
import logging
import re
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from xml.etree.ElementTree import ParseError

from announcer.jma.intake import oneline
from announcer.jma.parse import MAX_BYTES, message_type

log = logging.getLogger(__name__)
ATOM = "{http://www.w3.org/2005/Atom}"
MAX_FEED = 2 * 1024 * 1024
MAX_ENTRIES = 500
MAX_BACKOFF = 600.0
TIMEOUT = 10.0        # seconds per socket operation
DEADLINE = 30.0       # seconds for a whole request, headers and body
MAX_REDIRECTS = 3
USER_AGENT = "announcer (FM station JMA relay)"
NATIONAL = "気象庁"


class FetchError(Exception):
    pass


class DeadlineExceeded(FetchError):
    pass


@dataclass
class Response:
    status: int
    body: bytes = b""
    last_modified: str | None = None


def fetch(url: str, *, limit: int, if_modified_since: str | None = None,
          deadline: float = DEADLINE) -> Response:
    """GET ``url`` within ``deadline`` seconds; raises FetchError on anything but
    200/304, a body over ``limit``, a redirect to another host, or the deadline."""
    host = urllib.parse.urlsplit(url).netloc
    for _ in range(MAX_REDIRECTS + 1):
        resp = _get(url, limit, if_modified_since, time.monotonic() + deadline)
        if not isinstance(resp, str):
            return resp
        target = urllib.parse.urljoin(url, resp)
        if urllib.parse.urlsplit(target).netloc != host:
            raise FetchError(f"redirect to another host refused: {oneline(target)}")
        url = target
    raise FetchError("too many redirects")


def _get(url: str, limit: int, ims: str | None, end: float) -> Response | str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"not http(s): {oneline(url)}")
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname, parts.port, timeout=TIMEOUT)
    cut = threading.Event()

    def cut_off():  # the watchdog: a dripping server gets its socket shut down
        cut.set()
        if conn.sock is not None:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
    timer = threading.Timer(max(0.0, end - time.monotonic()), cut_off)
    timer.daemon = True
    timer.start()
    try:
        path = parts.path or "/"
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        if ims:
            headers["If-Modified-Since"] = ims
        conn.request("GET", path + (f"?{parts.query}" if parts.query else ""), headers=headers)
        resp = conn.getresponse()
        if resp.status in (301, 302, 303, 307, 308) and resp.getheader("Location"):
            return resp.getheader("Location")
        if resp.status == 304:
            return Response(304)
        if resp.status != 200:
            raise FetchError(f"HTTP {resp.status}")
        if resp.getheader("Content-Encoding", "identity") not in ("identity", ""):
            raise FetchError("compressed response refused")
        length = resp.getheader("Content-Length")
        if length and length.isdigit() and int(length) > limit:
            raise FetchError(f"too large ({length} bytes > {limit})")
        body = b""
        while len(body) <= limit:
            chunk = resp.read(min(65536, limit + 1 - len(body)))
            if not chunk:
                break
            body += chunk
        if cut.is_set():
            raise DeadlineExceeded(f"no complete answer within {DEADLINE:g} s")
        if len(body) > limit:
            raise FetchError(f"too large (> {limit} bytes)")
        return Response(200, body, resp.getheader("Last-Modified"))
    except FetchError:
        raise
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if cut.is_set():
            raise DeadlineExceeded(f"no complete answer within {DEADLINE:g} s") from None
        raise FetchError(oneline(str(exc) or type(exc).__name__)) from None
    finally:
        timer.cancel()
        conn.close()


@dataclass(frozen=True)
class Entry:
    url: str
    title: str = ""
    author: str = ""


def entries(feed_url: str, body: bytes) -> list[Entry]:
    """The message entries of an Atom feed, oldest first; links to other hosts or not
    ending in ``.xml`` are logged and dropped."""
    try:
        root = SafeET.fromstring(body, forbid_dtd=True)
    except (DefusedXmlException, ParseError, ValueError) as exc:
        raise FetchError(f"feed is not acceptable Atom ({type(exc).__name__})") from None
    if root.tag != f"{ATOM}feed":
        raise FetchError(f"feed root is {oneline(root.tag[:80])!r}, not Atom")
    host = urllib.parse.urlsplit(feed_url)
    out = []
    for entry in root.findall(f"{ATOM}entry")[:MAX_ENTRIES]:
        link = entry.find(f"{ATOM}link")
        href = (link.get("href") or "").strip() if link is not None else ""
        url = urllib.parse.urljoin(feed_url, href)
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.netloc != host.netloc:
            log.warning("JMA feed %s: entry link %r refused (not on %s)", feed_url,
                        oneline(href), host.netloc)
            continue
        if not parts.path.endswith(".xml"):
            log.warning("JMA feed %s: entry link %r refused (not a JMA message)", feed_url,
                        oneline(href))
            continue
        out.append(Entry(url, (entry.findtext(f"{ATOM}title") or "").strip()[:200],
                         (entry.findtext(f"{ATOM}author/{ATOM}name") or "").strip()[:200]))
    return list(reversed(out))  # Atom lists newest first


def entry_links(feed_url: str, body: bytes) -> list[str]:
    return [e.url for e in entries(feed_url, body)]


def wanted(entry: Entry, offices) -> bool:
    """Whether an entry can concern us: a kind we handle, from an office that can
    concern the configured areas. An entry without title or author is fetched."""
    if entry.title and message_type(entry.title) is None:
        return False
    if entry.author:
        names = set(re.split(r"[\s\u3000]+", entry.author))
        return bool(names & (set(offices) | {NATIONAL}))
    return True


class FeedPoller:
    """``poll_due()`` is called often (from the feed's own thread); it polls the feeds
    that are due. ``deliver(bytes, source) -> bool`` processes a message (True once it
    was processed, whatever the outcome); ``seen``/``mark`` remember links."""

    def __init__(self, feeds, poll_seconds: float, deliver, seen, mark, fetcher=fetch,
                 monotonic=time.monotonic, offices=(), overran=None):
        self.feeds, self.poll_seconds = list(feeds), float(poll_seconds)
        self.deliver, self.seen, self.mark = deliver, seen, mark
        self.fetcher, self.monotonic = fetcher, monotonic
        self.offices = tuple(offices)
        self.overran = overran or (lambda what: None)
        self._next = {f: 0.0 for f in self.feeds}
        self._errors = {f: 0 for f in self.feeds}
        self._modified: dict[str, str] = {}
        self.last_ok: float | None = None
        self.requests = 0
        self.skipped = 0

    def poll_due(self) -> None:
        for feed in self.feeds:
            if self.monotonic() >= self._next[feed]:
                self._poll(feed)

    def _poll(self, feed: str) -> None:
        started = self.monotonic()
        self.requests += 1
        try:
            resp = self.fetcher(feed, limit=MAX_FEED, if_modified_since=self._modified.get(feed))
            found = entries(feed, resp.body) if resp.status == 200 else []
        except FetchError as exc:
            if isinstance(exc, DeadlineExceeded):
                self.overran(f"フィード {oneline(feed)}")
            self._errors[feed] += 1
            wait = min(self.poll_seconds * 2 ** self._errors[feed], max(MAX_BACKOFF,
                                                                       self.poll_seconds))
            self._next[feed] = started + wait
            log.warning("JMA feed %s: %s (next try in %.0f s)", feed, exc, wait)
            return
        self._errors[feed] = 0
        self._next[feed] = started + self.poll_seconds
        if resp.last_modified:
            self._modified[feed] = resp.last_modified
        self.last_ok = self.monotonic()
        for entry in found:
            if not wanted(entry, self.offices):
                self.skipped += 1
            elif not self.seen(entry.url):
                self._fetch_entry(entry.url)

    def _fetch_entry(self, url: str) -> None:
        try:
            resp = self.fetcher(url, limit=MAX_BYTES)
        except FetchError as exc:
            log.warning("JMA message %s not fetched: %s", url, exc)
            if isinstance(exc, DeadlineExceeded):
                self.overran(f"電文 {oneline(url)}")
            if "too large" in str(exc) or "HTTP 4" in str(exc):
                self.mark(url)  # a definite answer: do not fetch it again
            return
        if self.deliver(resp.body, url) is not False:
            self.mark(url)
