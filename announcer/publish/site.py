"""The public folder: ``index.html``, one page per item, ``audio/``, ``feed.xml``,
``style.css``, ``favicon.svg``.

Rules:
- Every file is written to a temp file in its own folder and renamed into place
  (``write_atomic``, ``write_stream``), so a reader, the lobby screen or an rsync never sees half a file;
  a file whose content is unchanged is not rewritten (its mtime stays, a sync skips it).
- Pages are static HTML with no script: Jinja2 with autoescape, a strict CSP in a meta
  tag (the daemon's ``/public/`` also sends it as a header), ``lang="ja"``.
- The feed is RSS 2.0 with the iTunes podcast tags (feedgen), the newest ``FEED_ITEMS``
  of the window (the index has all of it): enclosures are absolute URLs under
  ``publish.url``; a withdrawn item stays in it while among them, marked, without audio.
- A rebuild reads the rows a few at a time and streams the index (``write_stream``), so
  its memory does not grow with the window.
- Nothing internal reaches a page: rows carry kind/id for the record, the templates
  only see ``public_view``'s fields.
"""

import datetime as dt
import itertools
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from feedgen.feed import FeedGenerator
from jinja2 import Environment, FileSystemLoader, select_autoescape

from announcer.publish.furigana import plain_text

TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates" / "public"
FAVICON = Path(__file__).resolve().parents[2] / "web" / "static" / "favicon.svg"
CSP = ("default-src 'none'; style-src 'self'; media-src 'self'; img-src 'self'; "
       "base-uri 'none'; form-action 'none'")
KIND_LABELS = {"notice": "お知らせ", "bulletin": "緊急放送", "alert": "気象庁の情報"}
_DAYS = "月火水木金土日"
FEED_ITEMS = 100  # the feed's newest items (a week at the station's rate; the index has all)


def write_atomic(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` through a temp file and a rename; False if unchanged."""
    return write_stream(path, iter((data,)))


def write_stream(path: Path, chunks: Iterator[str | bytes]) -> bool:
    """Write what ``chunks`` make (text as UTF-8) to ``path``, however large (the index
    is made piece by piece): compared with what is there as it comes; only from the
    first difference is a temp file written (the same prefix copied from the old file),
    then renamed into place. False if unchanged, and then nothing was written (a full
    disk does not fail a rebuild that changes nothing)."""
    try:
        old = open(path, "rb")
    except OSError:
        old = None
    out, tmp, same = None, None, 0  # same: bytes equal to the old file's so far
    try:
        for chunk in chunks:
            data = chunk.encode("utf-8") if isinstance(chunk, str) else chunk
            if out is None and old is not None and old.read(len(data)) == data:
                same += len(data)
                continue
            if out is None:
                out, tmp = _temp_copy(path, old, same)
            out.write(data)
        if out is None:
            if old is not None and not old.read(1):
                return False  # the same bytes, the same length
            out, tmp = _temp_copy(path, old, same)
        out.flush()
        os.fsync(out.fileno())
        out.close()
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if out is not None:
            out.close()
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        if old is not None:
            old.close()
    return True


def _temp_copy(path: Path, old, size: int):
    """A temp file beside ``path`` holding the first ``size`` bytes of ``old``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=path.parent)
    out = os.fdopen(fd, "wb")
    if size:
        old.seek(0)
        while size > 0:
            block = old.read(min(size, 1 << 16))
            if not block:
                break
            out.write(block)
            size -= len(block)
    return out, tmp


def day_label(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日（{_DAYS[day.weekday()]}）"


def time_label(t: dt.datetime) -> str:
    return f"{t.month}月{t.day}日 {t.hour}時{t.minute:02d}分"


def duration_label(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 60}分{s % 60:02d}秒" if s >= 60 else f"{s}秒"


def title_text(e: dict) -> str:
    marks = ("【取り消し】" if e["withdrawn_at"] else "") + ("【訓練】" if e["drill"] else "")
    return marks + "".join(t for t, _ in e["content"]["title"])


def public_view(row: dict, tz) -> dict:
    """The fields a page may show of a ``public_items`` row."""
    started = row["started_at"].astimezone(tz)
    day = dt.date.fromisoformat(row["day"]) if row.get("day") else started.date()
    withdrawn = row["withdrawn_at"].astimezone(tz) if row["withdrawn_at"] else None
    return {"slug": row["slug"], "content": row["content"], "started_at": started, "day": day,
            "when": time_label(started), "kind_label": KIND_LABELS.get(row["kind"], ""),
            "status": row["status"], "drill": bool(row["drill"]), "audio": row["audio"],
            "audio_bytes": row["audio_bytes"], "seconds": row["audio_seconds"],
            "duration": duration_label(row["audio_seconds"]),
            "plain_title": "".join(t for t, _ in row["content"]["title"]),
            "withdrawn_at": withdrawn, "withdrawn_note": row["withdrawn_note"],
            "withdrawn_when": time_label(withdrawn) if withdrawn else ""}


class Site:
    def __init__(self, folder: Path, *, title: str, station: str, url: str, days: int, tz):
        self.folder, self.title, self.station = Path(folder), title, station
        self.url = url if url.endswith("/") else url + "/"
        self.days, self.tz = days, tz
        self._pages: dict[str, tuple] = {}  # slug -> what its page was rendered from
        self.env = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                               autoescape=select_autoescape(default=True, default_for_string=True),
                               trim_blocks=True, lstrip_blocks=True)

    def _context(self, root: str) -> dict:
        return {"site": {"title": self.title, "station": self.station, "days": self.days},
                "csp": CSP, "root": root}

    def write(self, rows: Iterable[dict], now: dt.datetime) -> list[Path]:
        """Write every page of ``rows`` (newest first; iterated once per file, so a
        re-iterable that reads the database a few rows at a time keeps a rebuild's memory
        flat however many items the window holds); returns the files that changed."""
        for sub in ("", "items", "audio"):  # readable by a web server, whatever the umask
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
            os.chmod(self.folder / sub, 0o755)
        if iter(rows) is rows:
            raise TypeError("Site.write reads the rows once per file: pass a re-iterable")
        changed = []
        for name, data in self._assets():
            if write_atomic(self.folder / name, data):
                changed.append(self.folder / name)
        for r in rows:
            # a page changes only when its item is withdrawn: render the others once
            key = (r["status"], r["withdrawn_at"], r["audio"], bool(r["drill"]))
            name = f"items/{r['slug']}.html"
            if self._pages.get(r["slug"]) == key and (self.folder / name).exists():
                continue
            html = self.env.get_template("item.html").render(e=public_view(r, self.tz),
                                                             **self._context("../"))
            if write_atomic(self.folder / name, html.encode("utf-8")):
                changed.append(self.folder / name)
            self._pages[r["slug"]] = key
        index = self.env.get_template("index.html").generate(
            days=self._days(self._views(rows)), **self._context(""))
        if write_stream(self.folder / "index.html", index):
            changed.append(self.folder / "index.html")
        feed = self.feed(list(itertools.islice(self._views(rows), FEED_ITEMS)), now)
        if write_atomic(self.folder / "feed.xml", feed):
            changed.append(self.folder / "feed.xml")
        return changed

    def _assets(self):
        yield "style.css", (TEMPLATES / "style.css").read_bytes()
        if FAVICON.is_file():  # browsers ask for one; without it they log a 404
            yield "favicon.svg", FAVICON.read_bytes()

    def _views(self, rows: Iterable[dict]):
        return (public_view(r, self.tz) for r in rows)

    @staticmethod
    def _days(views):
        """The views grouped by day, newest first, lazily (the index is streamed)."""
        for day, entries in itertools.groupby(views, key=lambda v: v["day"]):
            yield {"id": day.isoformat(), "label": day_label(day), "entries": entries}

    def feed(self, views: list[dict], now: dt.datetime) -> bytes:
        fg = FeedGenerator()
        fg.load_extension("podcast")
        fg.title(self.title)
        fg.link(href=self.url + "index.html", rel="alternate")
        fg.link(href=self.url + "feed.xml", rel="self")
        fg.description(f"{self.station}が放送したお知らせ・緊急放送・気象情報（新しい {FEED_ITEMS} 件まで）")
        fg.language("ja")
        fg.generator("announcer")
        # the newest change, not the clock: an unchanged site gives the same bytes
        fg.lastBuildDate(max((v["withdrawn_at"] or v["started_at"] for v in views), default=now))
        fg.podcast.itunes_author(self.station)
        fg.podcast.itunes_category("Government")
        fg.podcast.itunes_explicit("no")
        for v in views:  # newest first, as they came
            page = f"{self.url}items/{v['slug']}.html"
            fe = fg.add_entry(order="append")
            fe.guid(page, permalink=True)
            fe.title(("【取り消し】" if v["withdrawn_at"] else "") + ("【訓練】" if v["drill"] else "")
                     + v["plain_title"])
            fe.link(href=page)
            body = plain_text(v["content"]["text"])
            if v["withdrawn_at"]:
                body = f"この情報は取り消されました（{v['withdrawn_when']}、{v['withdrawn_note']}）。\n\n" + body
            fe.description(body)
            fe.pubDate(v["started_at"])
            if v["audio"]:
                fe.enclosure(f"{self.url}audio/{v['audio']}", str(v["audio_bytes"]), "audio/mpeg")
                fe.podcast.itunes_duration(int(round(v["seconds"])))
        return fg.rss_str(pretty=True)

    def prune(self, pages: set[str], audio: set[str]) -> list[Path]:
        """Remove item pages of slugs not in ``pages`` (older days) and audio files not in
        ``audio`` (older days, withdrawn items), and temp files a crash left."""
        for slug in [s for s in self._pages if f"{s}.html" not in pages]:
            del self._pages[slug]  # its page is gone with its day
        removed = []
        for sub, suffix, keep in (("items", ".html", pages), ("audio", ".mp3", audio)):
            for path in (self.folder / sub).glob(f"*{suffix}"):
                if path.name not in keep:
                    path.unlink(missing_ok=True)
                    removed.append(path)
        for stale in self.folder.glob("**/.*.tmp"):
            stale.unlink(missing_ok=True)
        return removed
