"""The JSON behind the notice form's "読みを確認" and "試聴" buttons (notices.js): the
reading of the text as typed, and the start of the notice as it would air (audio/wav).
Nothing is saved; both take the form's fields as they are."""

import io

from flask import Blueprint, Response, current_app, jsonify, request

from announcer.core.errors import NothingToSay, SpeechError
from announcer.notices.editing import NoticeFileError
from announcer.notices.files import MAX_TEXT
from announcer.studio.render import write_wav
from announcer.web.auth import login_required
from announcer.web.preview import bounded_sentences, preview_slot, reading_slot

bp = Blueprint("notice_preview", __name__)


def _services():
    return current_app.extensions["announcer"]


def script_args(payload, voices) -> dict:
    """The body of a reading/preview request as ``Studio.notice_program`` arguments."""
    if not isinstance(payload, dict):
        raise NoticeFileError("JSON のオブジェクトで送ってください", 400)
    text, voice = payload.get("text"), payload.get("voice") or None
    repeat, chime = payload.get("repeat", 1), payload.get("chime", True)
    if not isinstance(text, str) or not text.strip():
        raise NoticeFileError("読み上げる文章が空です。入力してください", 422)
    if len(text.strip()) > MAX_TEXT:
        raise NoticeFileError(f"文章が {len(text.strip()) - MAX_TEXT} 文字多すぎます（いま {len(text.strip())} 文字、上限 {MAX_TEXT} 文字）。短くしてください", 413)
    if voice is not None and voice not in voices:
        raise NoticeFileError(f'声 "{voice}" はありません', 422)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= 3:
        raise NoticeFileError("繰り返し回数は 1 から 3 までにしてください", 422)
    if not isinstance(chime, bool):
        raise NoticeFileError("chime は true か false にしてください", 400)
    return {"text": text.strip(), "voice": voice, "repeat": repeat, "chime": chime}


def _speech_error(exc: Exception) -> NoticeFileError:
    if isinstance(exc, NothingToSay):
        return NoticeFileError(str(exc), 422)
    return NoticeFileError(f"読みを作れませんでした: {exc}", 422)


@bp.post("/staff/notices/reading")
@login_required(api=True)
def reading():
    s = _services()
    args = script_args(request.get_json(silent=True), s.studio.voices)
    try:
        with reading_slot():
            return jsonify(reading=s.studio.reading(args["text"]))
    except (SpeechError, ValueError) as exc:
        raise _speech_error(exc) from None


@bp.post("/staff/notices/preview")
@login_required(api=True)
def preview():
    s = _services()
    args = script_args(request.get_json(silent=True), s.studio.voices)
    try:
        with preview_slot():
            sentences, _ = bounded_sentences(s.studio, args["text"], repeat=args["repeat"])
            buf = io.BytesIO()
            frames = write_wav(buf, s.studio.notice_program(
                args["text"], voice=args["voice"], chime=args["chime"], sentences=sentences),
                s.studio.settings.rate)
    except (SpeechError, ValueError) as exc:
        raise _speech_error(exc) from None
    resp = Response(buf.getvalue(), mimetype="audio/wav")
    resp.headers["X-Audio-Seconds"] = f"{frames / s.studio.settings.rate:.1f}"
    resp.headers["Cache-Control"] = "no-store"
    return resp

