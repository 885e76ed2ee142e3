"""Staff page for the reading dictionary: search every word, add, change and delete the
words of web.csv, and try a sentence before and after a change (kana with accent marks,
and audio).

The forms are plain posts (no JavaScript needed); the script adds live mora counts and
the try-out, which calls the JSON below. An unsaved word is tried by writing it into
the sentence as an inline reading ``{表記|ヨミ}``: the kana is exact, the accent is
Open JTalk's guess until the word is saved and compiled into the dictionary.
"""

import io
import re

from flask import (Blueprint, Response, current_app, flash, g, jsonify, redirect,
                   render_template, request, url_for)

from announcer.core.errors import AnnouncerError, ConfigError, SpeechError
from announcer.readings.rows import DEFAULT_PRIORITY, HAND, KIND_LABELS, mora_count, parse_row
from announcer.readings.staff import (FIELDS, DictionaryError, WebDictionary, accent_notation,
                                      field_of, matching, not_editable, parse_fields)
from announcer.studio.render import write_wav
from announcer.web.auth import login_required
from announcer.web.preview import (PREVIEW_CHARS, bounded_reading, bounded_sentences,
                                   preview_slot, preview_text, reading_slot)

bp = Blueprint("readings", __name__)

_OVERRIDE = re.compile(r"(\{[^{}]*\})")


def _services():
    return current_app.extensions["announcer"]


def _dictionary() -> WebDictionary:
    """One per app, so its lock serializes every change made from the page."""
    dictionary = current_app.extensions.get("announcer.readings")
    if dictionary is None:
        s = _services()
        dictionary = current_app.extensions.setdefault(
            "announcer.readings",
            WebDictionary(s.studio.readings.folder, s.studio.reload_dictionary))
    return dictionary


# -- the page ----------------------------------------------------------------------------
def _blank_form() -> dict:
    return {"mode": "add", "original": "", "errors": {},
            "values": {"surface": "", "pronunciation": "", "accent_type": "0",
                       "priority": str(DEFAULT_PRIORITY)}}


def _form_from(source, mode: str, errors: dict | None = None) -> dict:
    values = {name: "" if source.get(name) is None else str(source.get(name)).strip()
              for name in FIELDS}  # accent type 0 is a value, not a blank
    return {"mode": mode, "original": str(source.get("original") or ""),
            "errors": errors or {}, "values": values}


def _entry_info(values: dict) -> dict:
    """Mora count and accent notation of what the form holds, when it is valid."""
    entry, _ = parse_row([values[name] for name in FIELDS], "")
    if entry is None:
        return {"moras": "", "notation": ""}
    return {"moras": mora_count(entry.pronunciation),
            "notation": accent_notation(entry.pronunciation, entry.accent_type)}


def _page(form: dict, *, error: str = "", status: int = 200, q: str | None = None,
          sample: str | None = None):
    dictionary = _dictionary()
    q = request.args.get("q", "") if q is None else q
    sample = request.args.get("sample", "") if sample is None else sample
    list_error = ""
    try:
        everything = dictionary.words()
        words, total = matching(everything, q), len(everything)
    except ConfigError as exc:
        words, total, list_error = [], 0, str(exc).replace(f"{dictionary.folder}/", "")
    html = render_template("readings.html", words=words, total=total, q=q, form=form,
                           info=_entry_info(form["values"]), version=dictionary.version(),
                           sample=sample[:PREVIEW_CHARS], error=error, list_error=list_error,
                           max_sample=PREVIEW_CHARS, voices=_voice_choice())
    resp = Response(html, status)
    resp.headers["Cache-Control"] = "no-store"  # a restored page would carry an old version
    return resp


@bp.get("/readings")
@login_required()
def index():
    form, error = _blank_form(), ""
    surface = request.args.get("edit")
    override = request.args.get("override")
    if override:  # a hand-made word's reading, replaced by one registered here
        word = _shipped_word(override)
        if word is None:
            error = f"「{override}」は手作り辞書にありません"
        else:
            form = _form_from({"surface": word.surface, "pronunciation": word.pronunciation,
                               "accent_type": word.accent_type, "priority": word.priority},
                              "add")
            form["override"] = word
    elif surface:
        try:
            words = _dictionary().words()
        except ConfigError:
            words = []  # the page says what is wrong with the files
        word = next((w for w in words if w.surface == surface), None)
        if word is None or not word.editable:
            error = f"「{surface}」は辞書にありません" if word is None else not_editable(word)
        else:
            form = _form_from({"original": word.surface, "surface": word.surface,
                               "pronunciation": word.pronunciation,
                               "accent_type": word.accent_type, "priority": word.priority},
                              "edit")
    return _page(form, error=error)


def _saved(message: str, surface: str):
    flash(message)
    sample = request.form.get("sample", "").strip()
    return redirect(url_for(".index", q=surface, **({"sample": sample} if sample else {})), 303)


def _refused(exc: DictionaryError, mode: str):
    return _page(_form_from(request.form, mode, exc.fields), error=str(exc), status=exc.status,
                 q="", sample=request.form.get("sample", ""))


def _audit(action: str, surface: str, before, after) -> None:
    _services().accounts.audit(g.user["name"], action, {
        "surface": surface, "before": before.row() if before else "",
        "after": after.row() if after else ""})


def _shipped_word(surface: str):
    try:
        words = _dictionary().words()
    except ConfigError:
        return None
    return next((w for w in words if w.surface == surface and w.kind == HAND), None)


@bp.post("/readings/add")
@login_required()
def add():
    override = request.form.get("override") == "1"
    try:
        word = _dictionary().add(parse_fields(request.form), request.form.get("version", ""),
                                 override=override)
    except DictionaryError as exc:
        return _refused(exc, "add")
    _audit("reading.add", word.surface, None, word)
    return _saved(f"「{word.surface}」を {word.pronunciation} と読むように登録しました", word.surface)


@bp.post("/readings/edit")
@login_required()
def edit():
    original = request.form.get("original", "")
    try:
        before, after = _dictionary().edit(original, parse_fields(request.form),
                                           request.form.get("version", ""))
    except DictionaryError as exc:
        return _refused(exc, "edit")
    _audit("reading.edit", before.surface, before, after)
    return _saved(f"「{after.surface}」の読みを {after.pronunciation} に直しました", after.surface)


@bp.post("/readings/delete")
@login_required()
def delete():
    surface = request.form.get("surface", "")
    try:
        word = _dictionary().delete(surface, request.form.get("version", ""))
    except DictionaryError as exc:
        return _page(_blank_form(), error=str(exc), status=exc.status)
    _audit("reading.delete", word.surface, word, None)
    flash(f"「{word.surface}」を辞書から削除しました")
    return redirect(url_for(".index"), 303)


# -- JSON for the try-out ------------------------------------------------------------------
class TryError(AnnouncerError):
    def __init__(self, message: str, fields: dict | None = None):
        super().__init__(message)
        self.fields = fields or {}


def substitute(text: str, surface: str, kana: str) -> str:
    """``text`` with every ``surface`` read as ``kana`` (inline readings left alone)."""
    return "".join(part if _OVERRIDE.fullmatch(part) else
                   part.replace(surface, f"{{{surface}|{kana}}}")
                   for part in _OVERRIDE.split(text))


def _sample(body: dict, with_entry: bool) -> str:
    """The sentence to try, with the unsaved word written into it when asked."""
    text = preview_text(str(body.get("text") or "").strip())
    surface = str(body.get("surface") or "").strip()
    if not with_entry:
        if not text and not surface:
            raise TryError("試し読みする文を入力してください")
        return text or surface
    cells = [str(body.get(name) or "").strip() for name in FIELDS]
    entry, problems = parse_row(cells, "")
    if entry is None:
        fields: dict = {}
        for p in problems:
            fields.setdefault(field_of(p) or "surface", []).append(p)
        raise TryError("単語の入力に誤りがあります", fields)
    text = text or entry.surface
    if entry.surface not in text:
        raise TryError(f"例文に「{entry.surface}」が入っていません")
    return substitute(text, entry.surface, entry.pronunciation)


def _reading(text: str) -> str:
    try:
        return bounded_reading(_services().studio, text, accent=True)
    except (SpeechError, ValueError) as exc:
        raise TryError(f"読みを作れませんでした: {exc}") from None


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise TryError("リクエストの形式が正しくありません")
    return body


@bp.post("/staff/readings/reading")
@login_required(api=True)
def staff_reading():
    """The sentence's reading with the current dictionary and, when the form holds a
    word, with that word too."""
    body = _body()
    with reading_slot():
        sample = _sample(body, False)
        now = _reading(sample)
        with_entry, note, fields = None, "", {}
        if str(body.get("surface") or "").strip():
            try:
                with_entry = _reading(_sample(body, True))
            except TryError as exc:
                note, fields = str(exc), exc.fields
        origins = _origins(sample)
    return jsonify(reading=now, with_entry=with_entry, note=note, fields=fields,
                   origins=origins)


def _origins(text: str) -> list[dict]:
    """Which dictionary each dictionary word of ``text`` came from."""
    try:
        found = _services().studio.reading_origins(text)
    except (SpeechError, ValueError):
        return []
    return [{"surface": e.surface, "reading": kana, "origin": KIND_LABELS[e.kind],
             "file": e.file} for _surface, kana, e in found]


def _voice_choice() -> dict:
    studio = _services().studio
    return {"presets": sorted(studio.voices.values(), key=lambda v: v.id),
            "default": studio.voice(None)}


def _voice(body: dict) -> str | None:
    """The voice the try-out is read in (None: the station's default)."""
    voice = body.get("voice") or None
    if voice is not None and voice not in _services().studio.voices:
        raise TryError(f"声「{voice}」はありません")
    return voice


@bp.post("/staff/readings/preview")
@login_required(api=True)
def staff_preview():
    body = _body()
    text = _sample(body, bool(body.get("with_entry")))
    studio = _services().studio
    voice = _voice(body)
    try:
        with preview_slot():
            sentences, _ = bounded_sentences(studio, text)
            buf = io.BytesIO()
            write_wav(buf, studio.notice_program(text, voice=voice, chime=False,
                                                 sentences=sentences),
                      studio.settings.rate)
    except (SpeechError, ValueError) as exc:
        raise TryError(f"音声を作れませんでした: {exc}") from None
    resp = Response(buf.getvalue(), mimetype="audio/wav")
    resp.headers["Cache-Control"] = "no-store"
    return resp
