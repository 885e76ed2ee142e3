"""The ``announcer`` commands that read or change the station's records: the as-run
log, staff accounts and API tokens, alert channels, backups and their restore.

``announcer.cli`` builds the parser and dispatches here; messages are for staff, in
Japanese, and every refusal is an ``AnnouncerError`` the CLI prints in one line.
"""

import datetime as dt
import sys
from pathlib import Path

from announcer.core.errors import AnnouncerError, ConfigError


def load_station_config(args):
    from announcer.core.config import load_config

    return load_config(Path(args.config))


def cmd_airlog(args) -> int:
    from announcer.record.store import Store

    config = load_station_config(args)
    tz = config.station.timezone
    day = dt.date.fromisoformat(args.date) if args.date else dt.datetime.now(tz).date()
    store = Store(config.paths.data / "announcer.db", tz)
    rows = store.airlog(day)
    keys = ["kind", "id", "scheduled_at", "started_at", "ended_at", "status", "detail"]
    if args.csv:
        from announcer.record.airlog_csv import airlog_csv_text
        from announcer.studio.voices import load_voices

        try:
            names = {v.id: v.name for v in load_voices(config.paths.voices).values()}
        except ConfigError:  # a broken preset: the CSV shows the voice's id
            names = {}
        sys.stdout.write(airlog_csv_text(rows, bom=False, newline="\n", voice_names=names))
        return 0
    if not rows:
        print(f"{day} の放送記録はありません")
    for r in rows:
        print("  ".join(str(r[k] or "-") for k in keys).rstrip(" -"))
    return 0


def _accounts(args):
    from announcer.access.accounts import Accounts
    from announcer.core.clock import SystemClock
    from announcer.record.store import Store

    config = load_station_config(args)
    store = Store(config.paths.data / "announcer.db", config.station.timezone)
    return Accounts(store, SystemClock(config.station.timezone))


def cmd_user(args) -> int:
    accounts = _accounts(args)
    if args.action == "list":
        for u in accounts.users():
            print(f"{u['name']}\t{u['role']}\t{u['created_at']}" +
                  ("\t無効" if u["disabled"] else ""))
        return 0
    if not args.name:
        raise AnnouncerError("ユーザー名を指定してください")
    if args.action == "remove":
        made = accounts.remove_user(args.name, revoke_tokens=args.revoke_tokens)
        print(f"ユーザー {args.name} を削除しました")
        if made and args.revoke_tokens:
            print(f"{args.name} が作った API トークンも無効にしました: {', '.join(made)}")
        elif made:
            print(f"{args.name} が作った API トークンは有効なままです: {', '.join(made)}"
                  "（不要なら announcer token revoke 名前）")
        return 0
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        import getpass

        password = getpass.getpass("パスワード: ")
        if getpass.getpass("もう一度: ") != password:
            raise AnnouncerError("パスワードが一致しません")
    accounts.add_user(args.name, password, args.role)
    print(f"ユーザー {args.name}（{args.role}）を追加しました")
    return 0


def cmd_token(args) -> int:
    accounts = _accounts(args)
    if args.action == "list":
        for t in accounts.tokens():
            print("\t".join((t["name"], t["scope"], t["created_at"],
                             f"expires={t['expires_at'] or '-'}",
                             f"last_used={t['last_used_at'] or '-'}")))
        return 0
    if not args.name:
        raise AnnouncerError("トークンの名前を指定してください")
    if args.action == "revoke":
        accounts.revoke_token(args.name)
        print(f"トークン {args.name} を無効にしました")
        return 0
    expires = None
    if args.expires_days is not None:
        import datetime as dt

        if not 1 <= args.expires_days <= 3650:
            raise AnnouncerError("--expires-days は 1 から 3650 までにしてください")
        expires = accounts.clock.now() + dt.timedelta(days=args.expires_days)
    token = accounts.create_token(args.name, scope=args.scope, expires_at=expires)
    print(f"トークン {args.name} を作りました。この値は二度と表示されません。安全に保管してください:")
    print(token)
    return 0


def cmd_notify_test(args) -> int:
    from announcer.watch.notify.service import send_test

    config = load_station_config(args)
    results = send_test(config)
    if not results:
        raise AnnouncerError("通知先が設定されていません（station.yaml の notify.email と notify.webhooks）")
    for name, error in results:
        print(f"{name}: {'送信しました' if error is None else '送れませんでした: ' + error}")
    failed = sum(1 for _, error in results if error is not None)
    if failed:
        print(f"{failed} 件の通知先に送れませんでした", file=sys.stderr)
    return 1 if failed else 0


def cmd_backup(args) -> int:
    from announcer.watch import backup

    config = load_station_config(args)
    dest = Path(args.dir)
    path = backup.make_backup(config, dest, dt.datetime.now(config.station.timezone))
    print(f"{path}（{path.stat().st_size / 1e6:.1f} MB）を作りました")
    for old in backup.prune(dest, args.keep) if args.keep else []:
        print(f"古いバックアップを削除しました: {old.name}")
    return 0


def cmd_restore(args) -> int:
    import tempfile

    from announcer.watch import restore

    archive = Path(args.archive)
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            manifest = restore.verify(archive, Path(tmp))
        print(f"{archive.name}: 問題ありません（{manifest['created_at']} 作成、"
              f"{manifest['station']}、{manifest['host']}、{len(manifest['files'])} ファイル）")
        return 0
    if args.to:
        from announcer.core.clock import TOKYO

        places, tz = restore.targets(folder=Path(args.to).absolute()), TOKYO
    else:
        config = load_station_config(args)
        places, tz = restore.targets(config), config.station.timezone
    manifest = restore.restore(archive, places, dt.datetime.now(tz), force=args.force)
    # Only now, after every part is in place: a report is never printed for a refusal.
    lines = [f"{archive.name}（{manifest['created_at']} 作成）を復元しました:"]
    lines += [f"  {part} → {target}" for part, target in places.items()]
    lines.append("置き換える前のファイルは「.before-restore-日時」を付けて残してあります。")
    print("\n".join(lines))
    return 0
