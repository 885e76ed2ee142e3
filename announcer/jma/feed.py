"""The JMA Atom pull feeds: which entries are new, and their messages' bytes.

Rules: at most one request per feed per ``poll_seconds`` (more after errors: the wait
doubles up to ``MAX_BACKOFF``); ``If-Modified-Since`` with the feed's last
``Last-Modified``; each entry link is fetched once (remembered in the store), and only
from the host of the feed that listed it, over http(s), never by following a redirect
elsewhere. Feeds and messages are read with a size cap and refused when compressed or
oversized; an Atom document with a DTD is refused. The poller never raises: every
problem is one log line and a later retry.
"""

import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from xml.etree.ElementTree import ParseError

from announcer.jma.parse import MAX_BYTES

log = logging.getLogger(__name__)
ATOM = "{http://www.w3.org/2005/Atom}"
MAX_FEED = 2 * 1024 * 1024
MAX_ENTRIES = 500
MAX_BACKOFF = 600.0
TIMEOUT = 10.0
USER_AGENT = "announcer (FM station JMA relay)"


class FetchError(Exception):
    pass


@dataclass
class Response:
    status: int
    body: bytes = b""
    last_modified: str | None = None


class _SameHost(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urllib.parse.urlsplit(newurl).netloc != urllib.parse.urlsplit(req.full_url).netloc:
            raise FetchError(f"redirect to another host refused: {newurl[:200]}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_SameHost())


def fetch(url: str, *, limit: int, if_modified_since: str | None = None) -> Response:
    """GET ``url``; raises FetchError on anything but 200/304 or a body over ``limit``."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise FetchError(f"not http(s): {url[:200]}")
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT,
                                               "Accept-Encoding": "identity"})
    if if_modified_since:
        req.add_header("If-Modified-Since", if_modified_since)
    try:
        with _OPENER.open(req, timeout=TIMEOUT) as resp:
            if resp.headers.get("Content-Encoding", "identity") not in ("identity", ""):
                raise FetchError("compressed response refused")
            length = resp.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > limit:
                raise FetchError(f"too large ({length} bytes > {limit})")
            body = resp.read(limit + 1)
            if len(body) > limit:
                raise FetchError(f"too large (> {limit} bytes)")
            return Response(resp.status, body, resp.headers.get("Last-Modified"))
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return Response(304)
        raise FetchError(f"HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise FetchError(str(getattr(exc, "reason", exc))[:200]) from None


def entry_links(feed_url: str, body: bytes) -> list[str]:
    """The message links of an Atom feed, oldest first; links to other hosts or not
    ending in ``.xml`` are logged and dropped."""
    try:
        root = SafeET.fromstring(body, forbid_dtd=True)
    except (DefusedXmlException, ParseError, ValueError) as exc:
        raise FetchError(f"feed is not acceptable Atom ({type(exc).__name__})") from None
    if root.tag != f"{ATOM}feed":
        raise FetchError(f"feed root is {root.tag[:80]!r}, not Atom")
    host = urllib.parse.urlsplit(feed_url)
    links = []
    for entry in root.findall(f"{ATOM}entry")[:MAX_ENTRIES]:
        link = entry.find(f"{ATOM}link")
        href = (link.get("href") or "").strip() if link is not None else ""
        url = urllib.parse.urljoin(feed_url, href)
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.netloc != host.netloc:
            log.warning("JMA feed %s: entry link %r refused (not on %s)", feed_url,
                        href[:200], host.netloc)
            continue
        if not parts.path.endswith(".xml"):
            log.warning("JMA feed %s: entry link %r refused (not a JMA message)", feed_url,
                        href[:200])
            continue
        links.append(url)
    return list(reversed(links))  # Atom lists newest first


class FeedPoller:
    """``poll_due()`` is called often (its thread); it polls the feeds that are due.
    ``deliver(bytes, source)`` gets each new message; ``seen``/``mark`` remember links."""

    def __init__(self, feeds, poll_seconds: float, deliver, seen, mark, fetcher=fetch,
                 monotonic=time.monotonic):
        self.feeds, self.poll_seconds = list(feeds), float(poll_seconds)
        self.deliver, self.seen, self.mark = deliver, seen, mark
        self.fetcher, self.monotonic = fetcher, monotonic
        self._next = {f: 0.0 for f in self.feeds}
        self._errors = {f: 0 for f in self.feeds}
        self._modified: dict[str, str] = {}
        self.last_ok: float | None = None
        self.requests = 0

    def poll_due(self) -> None:
        for feed in self.feeds:
            if self.monotonic() >= self._next[feed]:
                self._poll(feed)

    def _poll(self, feed: str) -> None:
        started = self.monotonic()
        self.requests += 1
        try:
            resp = self.fetcher(feed, limit=MAX_FEED, if_modified_since=self._modified.get(feed))
            links = entry_links(feed, resp.body) if resp.status == 200 else []
        except FetchError as exc:
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
        for url in links:
            if not self.seen(url):
                self._fetch_entry(url)

    def _fetch_entry(self, url: str) -> None:
        try:
            resp = self.fetcher(url, limit=MAX_BYTES)
        except FetchError as exc:
            log.warning("JMA message %s not fetched: %s", url, exc)
            if "too large" in str(exc) or "HTTP 4" in str(exc):
                self.mark(url)  # a definite answer: do not fetch it again
            return
        self.mark(url)
        self.deliver(resp.body, url)
