"""The ``announcer`` command: one console script, a subcommand per operator task."""

import argparse
import sys
import threading
import time
from pathlib import Path

from announcer.cli_records import (cmd_airlog, cmd_backup, cmd_notify_test,
                                    cmd_restore, cmd_token, cmd_user)
from announcer.cli_records import load_station_config as _config
from announcer.core.errors import AnnouncerError, ConfigError

EPILOG = "どのコマンドも --config PATH で設定ファイルを指定できます（既定: ./station.yaml）。"


def _studio(args, text: str | None = None):
    """A started studio; ``text`` is checked first so a bad script fails fast."""
    from announcer.studio.service import Studio

    studio = Studio(_config(args))
    if text is not None:
        studio.sentences(text)
    voice = getattr(args, "voice", None)
    if voice and voice not in studio.voices:  # never a silent fallback for a typo
        raise AnnouncerError(f"声「{voice}」はありません。使える声: {', '.join(sorted(studio.voices))}")
    studio.start()
    return studio


def cmd_reading(args) -> int:
    from announcer.readings.rows import KIND_LABELS

    studio = _studio(args, args.text)
    try:
        print(studio.reading(args.text, accent=args.accent))
        for surface, kana, entry in studio.reading_origins(args.text):
            print(f"  {entry.surface} {kana} ← {KIND_LABELS[entry.kind]}"
                  f"（{entry.file} {entry.line} 行目）")
    finally:
        studio.stop()
    return 0


def write_wav(path: Path, blocks, rate: int) -> float:
    """Write the WAV next to its final name, then rename: no half file on failure."""
    from announcer.studio.render import write_wav as stream_wav

    tmp = path.with_name(path.name + ".part")
    frames = stream_wav(tmp, blocks, rate)
    tmp.replace(path)
    return frames / rate


def cmd_render(args) -> int:
    studio = _studio(args, args.text)
    try:
        program = studio.notice_program(args.text, voice=args.voice, chime=not args.no_chime)
        seconds = write_wav(Path(args.output), program, studio.settings.rate)
    finally:
        studio.stop()
    print(f"{args.output}: {seconds:.1f} 秒", file=sys.stderr)
    return 0


def cmd_say(args) -> int:
    from announcer.core.clock import SystemClock
    from announcer.playout.engine import Engine, Item
    from announcer.playout.sources import ArraySource
    from announcer.station.output import make_output

    studio = _studio(args, args.text)
    try:
        audio = studio.render_notice(args.text, voice=args.voice, chime=not args.no_chime)
    finally:
        studio.stop()
    config = studio.config
    engine = Engine(SystemClock(config.station.timezone), config.audio.rate)
    output = make_output(config)
    reported = threading.Event()

    def on_health(ok: bool, detail: str) -> None:
        engine.output_health(ok, detail)
        reported.set()

    output.start(engine.pull, on_health)
    try:
        reported.wait(15)  # the device opens in the background
        if not output.healthy:
            raise AnnouncerError(f"音声出力装置が使えません: {output.detail}")
        engine.enqueue(Item("notice", "say", ArraySource(audio), title=args.text[:20]))
        time.sleep(0.2)
        while not engine.idle() and output.healthy:
            time.sleep(0.05)
        time.sleep(config.audio.latency + 0.1)  # let the device play out its buffer
    finally:
        output.stop()
        engine.close()
    return 0


def cmd_devices(args) -> int:
    from announcer.audio.device import find_device, list_devices

    config = _config(args)
    if args.inputs:
        return _input_devices(config)
    wanted = config.audio.device
    chosen = None if wanted == "file" else find_device(wanted)
    devices = list_devices()
    if not devices:
        print("出力デバイスが見つかりません（サウンドサーバーやサウンドカードを確認してください）")
    for index, name, is_default in devices:
        mark = "*" if index == chosen else " "
        print(f"{mark} {index:3d}  {name}{'  (既定)' if is_default else ''}")
    if wanted == "file":
        print(f"audio.device: file — 音声は {config.paths.data / 'aired'} に WAV で書き出します")
    elif chosen is None:
        print(f'audio.device "{wanted}" に合う出力デバイスがありません', file=sys.stderr)
        return 1
    return 0


def _input_devices(config) -> int:
    """The inputs the silence monitor can use (monitor.device), * marking the chosen one."""
    import sounddevice as sd

    from announcer.watch.monitor.capture import find_input

    wanted = config.monitor.device
    try:
        chosen = find_input(sd, wanted) if wanted else None
    except RuntimeError:
        chosen = None
    inputs = [(i, d["name"]) for i, d in enumerate(sd.query_devices()) if d["max_input_channels"] > 0]
    if not inputs:
        print("入力デバイスが見つかりません（サウンドサーバーやサウンドカードを確認してください）")
    for index, name in inputs:
        print(f"{'*' if index == chosen else ' '} {index:3d}  {name}")
    if config.monitor.pulse_source:
        print(f"monitor.pulse_source: {config.monitor.pulse_source}（pactl list short sources で確認）")
    if wanted and chosen is None:
        print(f'monitor.device "{wanted}" に合う入力デバイスがありません', file=sys.stderr)
        return 1
    return 0


def cmd_check(args) -> int:
    from announcer.station.check import check_station

    problems, upcoming = check_station(Path(args.config))
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} 件の問題があります", file=sys.stderr)
        return 1
    print("設定とお知らせに問題はありません。これから 24 時間の放送予定:")
    for at, notice in upcoming:
        day = "月火水木金土日"[at.weekday()]
        print(f"  {at:%m/%d}({day}) {at:%H:%M:%S}  {notice.id}  {notice.title}")
    if not upcoming:
        print("  （ありません）")
    return 0


def cmd_run(args) -> int:
    from announcer.daemon import run_daemon

    return run_daemon(Path(args.config), fallback_to_file=args.fallback_to_file)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="announcer", description="FMもおか AI アナウンサー（お知らせ自動放送と緊急放送）",
        epilog=EPILOG)
    parser.add_argument("--config", default="station.yaml", help="設定ファイル (station.yaml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="詳しいログを出す")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, func, help_text):
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=EPILOG)
        p.add_argument("--config", default=argparse.SUPPRESS, help="設定ファイル")
        p.set_defaults(func=func)
        return p

    p = add("reading", cmd_reading, "読み（カタカナ）と、読み辞書から来た単語（どの辞書か）を表示する")
    p.add_argument("text")
    p.add_argument("--accent", action="store_true", help="アクセント句（/）と核（'）も表示")
    for name, func, help_text in (("render", cmd_render, "放送される音声を WAV に書き出す"),
                                  ("say", cmd_say, "今すぐ出力デバイスで読み上げる")):
        p = add(name, func, help_text)
        p.add_argument("text")
        p.add_argument("--voice", help="声のプリセット名（voices/*.yaml）")
        p.add_argument("--no-chime", action="store_true", help="チャイムなし")
        if name == "render":
            p.add_argument("-o", "--output", required=True, help="書き出す WAV ファイル")
    p = add("devices", cmd_devices, "使える出力デバイスを一覧する（* が設定中のもの）")
    p.add_argument("--inputs", action="store_true", help="無音検知に使える入力デバイスを一覧する")
    add("check", cmd_check, "設定とお知らせファイルを検査し、24 時間の放送予定を表示する")
    p = add("run", cmd_run, "常駐して放送する（systemd から起動）")
    p.add_argument("--fallback-to-file", action="store_true",
                   help="出力デバイスがないときは var/aired/ に WAV で書き出す（試用向け）")
    p = add("airlog", cmd_airlog, "放送記録（as-run log）を表示する")
    p.add_argument("--date", help="日付 YYYY-MM-DD（既定: 今日）")
    p.add_argument("--csv", action="store_true", help="CSV で出力")
    p = add("user", cmd_user, "職員のアカウントを管理する（add / list / remove）")
    p.add_argument("action", choices=("add", "list", "remove"))
    p.add_argument("name", nargs="?")
    p.add_argument("--password-stdin", action="store_true", help="パスワードを標準入力から読む")
    p.add_argument("--revoke-tokens", action="store_true",
                   help="remove のとき、その人が作った API トークンも無効にする")
    p.add_argument("--role", choices=("operator", "admin"), default="operator",
                   help="operator: 緊急放送の送出と停止 / admin: さらにユーザーとトークンの管理")
    p = add("token", cmd_token, "他システム用の API トークンを管理する（create / list / revoke）")
    p.add_argument("action", choices=("create", "list", "revoke"))
    p.add_argument("name", nargs="?")
    p.add_argument("--scope", choices=("bulletins", "read"), default="bulletins",
                   help="bulletins: 緊急放送の送出・停止と読み取り / read: 読み取りだけ")
    p.add_argument("--expires-days", type=int, help="有効期限（日数。省略時は無期限）")
    p = add("backup", cmd_backup, "データベース・お知らせ・読み辞書・設定をひとつのアーカイブに保存する（放送中でも可）")
    p.add_argument("dir", help="保存先のフォルダ")
    p.add_argument("--keep", type=int, default=0, help="新しいものから N 個だけ残し、古いものを消す")
    p = add("restore", cmd_restore, "バックアップから復元する（放送システムを止めてから）")
    p.add_argument("archive", help="announcer-backup-….tar.gz")
    p.add_argument("--to", help="設定の場所ではなく、このフォルダ（空でよい）に復元する")
    p.add_argument("--check", action="store_true", help="検査だけして、何も書き換えない")
    p.add_argument("--force", action="store_true",
                   help="ほかの放送局・ほかのコンピューターのバックアップでも復元する")
    add("notify-test", cmd_notify_test, "すべての通知先（メール・Webhook）にテストを送り、結果を表示する")
    return parser


def main(argv=None) -> int:
    from announcer.core.logs import setup_logging

    args = build_parser().parse_args(argv)
    setup_logging(args.verbose, quiet=args.func is not cmd_run)
    try:
        return args.func(args)
    except ConfigError as e:
        for p in e.problems:
            print(p, file=sys.stderr)
        return 1
    except (AnnouncerError, ValueError) as e:
        print(f"エラー: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
