"""One health verdict for the staff page, ``/api/status`` and ``/healthz``: is anything
wrong, what, what to do, and the colour.

Rules:
- The verdict is built from the station's own health fields (start-up, the output,
  broken notice files, the JMA feed) and from EVERY condition bad now on the trouble
  bus (``announcer.core.events.Bus.bad_now``): whatever publishes a condition is seen
  here without a change to this module.
- Each kind has a level (``bad`` red, ``warn`` amber), a reason in staff Japanese and
  what to do; a kind this module does not know still counts (amber, a generic reason
  and its detail). The colour is the worst level; ``ok`` (green) only when nothing at
  all is wrong. Several conditions of one kind are one problem with several details.
- Problems are ordered worst first, then oldest first.
"""

import datetime as dt

OK, WARN, BAD = "ok", "warn", "bad"
_RANK = {OK: 0, WARN: 1, BAD: 2}
_TECH = "直らなければ技術担当に連絡してください。"

# kind -> (level, reason, what to do). Kinds other parts publish are labelled here too.
KINDS = {
    "starting": (WARN, "起動中です（音声合成と出力機器を準備しています）",
                 "準備ができしだい放送します。受け付けた緊急放送は消えません。1 分たっても変わらなければ技術担当に連絡してください。"),
    "audio": (BAD, "音が出ていません（出力機器の異常）",
              "受け付けた緊急放送は消えず、機器が戻りしだい最初から放送します。出力機器（ミキサー・USB 音声機器）の電源とケーブルを確かめてください。" + _TECH),
    "on_air_silence": (BAD, "放送中のはずの音が送信側で聞こえていません（放送中の無音）",
                       "出力機器からミキサー、送信機までの経路（フェーダー・ケーブル・切り替え）をすぐに確かめてください。" + _TECH),
    "silence": (BAD, "放送の音が止まっています（無音を検知しました）",
                "ミキサーのフェーダーと送出の切り替え、送信機への送りを確かめてください。" + _TECH),
    "speech": (BAD, "音声合成が異常終了しています（緊急放送の文が抜けるおそれがあります）",
               "緊急放送を出すときは「試聴」で音が出ることを確かめ、放送記録に「一部のみ放送」「失敗」が出ていないか見てください。" + _TECH),
    "jma_stale": (BAD, "気象庁の情報が届いていません（警報や地震の情報を自動で放送できません）",
                  "テレビや気象庁のホームページで発表を確かめ、必要なら「緊急放送」で伝えてください。インターネット接続は技術担当に確かめてもらってください。"),
    "jma_intake": (WARN, "気象庁の情報の受け取りに問題があります（受信フォルダの遅れ・受け付けなかったファイル）",
                   "「気象庁の情報」画面で届いた情報を確かめてください。" + _TECH),
    "record": (BAD, "放送記録を書き込めません（データベース）",
               "放送は続けていますが、記録が残らないおそれがあります。すぐに技術担当に連絡してください。"),
    "clock": (WARN, "パソコンの時計が大きく動きました",
              "お知らせの時刻がずれていないか、番組表と放送記録で確かめてください。" + _TECH),
    "jobs": (BAD, "放送の予定を動かす処理が止まっています",
             "お知らせが時刻どおりに出ないおそれがあります。すぐに技術担当に連絡してください（本体の再起動が必要なことがあります）。"),
    "cache": (WARN, "作り置きの音声を保存できません",
              "放送は続けますが、お知らせの準備に時間がかかります。" + _TECH),
    "disk": (WARN, "データ用ディスクの空きが少なくなっています",
             "空きがなくなると放送記録を書けなくなります。技術担当に連絡してください。"),
    "notify": (WARN, "異常の通知（メール・Webhook）を受け付けない宛先があります",
               "異常が起きても担当者に届かないおそれがあります。通知先の設定を技術担当に確かめてもらってください。"),
    "publish": (WARN, "放送内容の公開ページを更新・送信できません",
                "放送には影響ありません。公開先のサーバーやネットワークを技術担当に確かめてもらってください。"),
    "notice_file": (WARN, "お知らせファイルに誤りがあります",
                    "誤りのあるファイルは、直前の正しい内容で放送を続けています。"),
}
_UNKNOWN = (WARN, "異常があります", _TECH)
NOTICE_FILE_WEB = "「お知らせ」画面で、そのお知らせを開いて直してください。"
NOTICE_FILE_HAND = ("このファイルは画面からは直せません（読み取り専用）。技術担当に連絡してください"
                    "（announcer check で誤りの場所が分かります）。")
HEADLINE_OK = "正常：音声・お知らせ・気象庁の情報・音声合成・監視に問題はありません"


def verdict(own: dict, bad: list, *, page_files=None, tz=None) -> dict:
    """``own``: the station's fields (``state``, ``audio`` {ok, detail},
    ``schedule_errors``, ``broken_files``, ``jma``, ``faults`` [{kind, detail}], a recent
    large ``clock_step`` {seconds, at}); ``bad``: the bus's conditions bad
    now (``Event``s); ``page_files(path) -> bool``: whether the page can edit a file.

    Returns ``{"level", "headline", "problems": [{"kind", "level", "reason", "todo",
    "details", "since"}]}`` (``since``: ISO time in ``tz`` when the oldest of its
    conditions was published)."""
    problems: dict[str, dict] = {}

    def add(kind: str, detail: str = "", since: float | None = None) -> None:
        p = problems.get(kind)
        if p is None:
            level, reason, todo = KINDS.get(kind, _UNKNOWN)
            if kind not in KINDS:
                reason = f"{reason}（{kind}）"
            p = problems[kind] = {"kind": kind, "level": level, "reason": reason, "todo": todo,
                                  "details": [], "since": None, "_at": since or 0.0}
        if detail and not any(detail in d for d in p["details"]):  # said once
            p["details"].append(detail)
        if since and (not p["_at"] or since < p["_at"]):
            p["_at"] = since

    if own.get("state") == "starting":
        add("starting")
    audio = own.get("audio") or {}
    if audio and not audio.get("ok", True):
        add("audio", f"出力機器: {audio.get('detail', '')}")
    for line in own.get("schedule_errors") or ():
        add("notice_file", line)
    if own.get("jma") == "stale":
        add("jma_stale")
    for fault in own.get("faults") or ():
        add(fault["kind"], fault["detail"])
    step = own.get("clock_step")
    if step:
        way = "進みました" if step["seconds"] > 0 else "戻りました"
        add("clock", f"{step['at'][11:19]} に {abs(step['seconds']):.0f} 秒{way}")
    said = set(problems)  # the station's own fields say these best: the bus adds a time
    for event in bad:
        add(event.kind, "" if event.kind in said else event.detail, event.at)
    if "notice_file" in problems:
        files = [e.key for e in bad if e.kind == "notice_file"] + list(own.get("broken_files") or ())
        on_page = bool(files) and page_files is not None and all(page_files(f) for f in files)
        problems["notice_file"]["todo"] += NOTICE_FILE_WEB if on_page else NOTICE_FILE_HAND
        problems["notice_file"]["reason"] += f"（{len(problems['notice_file']['details'])} 件）"
    ordered = sorted(problems.values(), key=lambda p: (-_RANK[p["level"]], p["_at"]))
    for p in ordered:
        at = p.pop("_at")
        p["since"] = dt.datetime.fromtimestamp(at, tz).astimezone(tz).isoformat(timespec="seconds") \
            if at else None
    level = max((p["level"] for p in ordered), key=_RANK.get, default=OK)
    return {"level": level, "headline": headline(ordered), "problems": ordered}


def headline(problems: list[dict]) -> str:
    if not problems:
        return HEADLINE_OK
    first = problems[0]["reason"]
    return first if len(problems) == 1 else f"{first}（ほかに {len(problems) - 1} 件）"
