"""Staff accounts, API tokens and the audit log (tables in the station's SQLite file).

Rules:
- Passwords are argon2id hashes. API tokens are random and stored only as a SHA-256
  hash (they carry 256 bits of entropy, so a slow hash adds nothing). A token has one
  scope: ``bulletins`` (submit, stop and read) or ``read`` (status, as-run log only),
  and an optional expiry.
- Removing or disabling a user, or changing their role or password, ends every session
  of theirs at once (``announcer.access.sessions``).
- The station always keeps an enabled admin: a demotion, disabling or removal that would
  leave none is refused, the count taken inside the same SQL statement as the change (so
  two admins demoting each other at the same moment cannot both succeed).
- Changing one's own password needs the current one (a session left open on a shared PC
  must not be enough to take the account).
- API tokens belong to the station, not to the admin who made them: removing that admin
  leaves them valid unless asked (``revoke_tokens``); the caller is told which remain.
- The audit log is append-only (SQLite triggers refuse UPDATE and DELETE), and nothing
  written to it is longer than ``AUDIT_TEXT`` characters a value: whoever reaches the
  login form cannot grow it by sending long names.
"""

import datetime as dt
import hashlib
import json
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from announcer.core.errors import AnnouncerError
from announcer.access.sessions import Sessions
from announcer.record.store import Store, iso

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('operator','admin')),
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    name TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    rowid INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    who TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL           -- JSON
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
"""
# Columns added after the first release (existing station databases get them on start).
_COLUMNS = {
    "users": (("disabled", "INTEGER NOT NULL DEFAULT 0"),),
    "tokens": (("scope", "TEXT NOT NULL DEFAULT 'bulletins'"), ("expires_at", "TEXT"),
               ("last_used_at", "TEXT"), ("created_by", "TEXT NOT NULL DEFAULT ''")),
}

ROLES = ("operator", "admin")
SCOPES = ("bulletins", "read")
MAX_NAME, MAX_PASSWORD, MIN_PASSWORD = 64, 256, 8
AUDIT_TEXT = 5000  # characters per value: a bulletin's whole script, never a flood
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_hasher = PasswordHasher()


class AccountError(AnnouncerError):
    status = 422


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise AccountError("名前は半角英数字と _ . @ - で 64 文字以内にしてください")


def _check_password(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise AccountError(f"パスワードは {MIN_PASSWORD} 文字以上にしてください")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"パスワードは {MAX_PASSWORD} 文字以内にしてください")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AccountError(f"役割は {' か '.join(ROLES)} です")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _capped(value):
    if isinstance(value, str):
        return value if len(value) <= AUDIT_TEXT else value[:AUDIT_TEXT] + "…"
    if isinstance(value, dict):
        return {str(k)[:64]: _capped(v) for k, v in list(value.items())[:50]}
    if isinstance(value, (list, tuple)):
        return [_capped(v) for v in value[:50]]
    return value


class Accounts:
    def __init__(self, store: Store, clock):
        self.store, self.clock = store, clock
        store.ensure_schema(SCHEMA)
        for table, columns in _COLUMNS.items():
            for name, declaration in columns:
                store.ensure_column(table, name, declaration)
        self.sessions = Sessions(store, clock)

    # -- users -----------------------------------------------------------------------
    def add_user(self, name: str, password: str, role: str = "operator", by: str = "cli") -> None:
        _check_name(name)
        _check_role(role)
        _check_password(password)
        if self.store.query("SELECT 1 FROM users WHERE name=?", (name,)):
            raise AccountError(f"ユーザー {name} はすでにあります")
        self.store.execute("INSERT INTO users(name,password_hash,role,created_at)"
                           " VALUES (?,?,?,?)",
                           (name, _hasher.hash(password), role, iso(self.clock.now())))
        self.audit(by, "user.add", {"name": name, "role": role})

    def _change(self, name: str, sql: str, args: tuple, action: str, detail: dict,
                by: str, keep_admin: bool = False) -> None:
        if keep_admin:  # the row may change only if it is not the last enabled admin
            sql += (" AND (NOT (role='admin' AND disabled=0) OR (SELECT COUNT(*) FROM users"
                    " WHERE role='admin' AND disabled=0 AND name<>?) > 0)")
            args_ = (*args, name, name)
        else:
            args_ = (*args, name)
        if not self.store.execute(sql, args_).rowcount:
            if keep_admin and self.store.query("SELECT 1 FROM users WHERE name=?", (name,)):
                raise AccountError(f"{name} はただひとりの有効な管理者です。先にほかの人を管理者に"
                                   "してください（管理者がいなくなると、アカウントを誰も管理できません）")
            raise AccountError(f"ユーザー {name} はありません")
        ended = self.sessions.end_user(name)
        self.audit(by, action, dict(detail, name=name, sessions_ended=ended))

    def remove_user(self, name: str, by: str = "cli", revoke_tokens: bool = False) -> list[str]:
        """Remove ``name``; returns the names of the tokens they created: revoked with
        them when ``revoke_tokens``, otherwise still valid (say so to whoever asked)."""
        made = self.tokens_by(name)
        self._change(name, "DELETE FROM users WHERE name=?", (), "user.remove",
                     {"tokens_revoked": made if revoke_tokens else []}, by, keep_admin=True)
        if revoke_tokens:
            for token_name in made:
                self.revoke_token(token_name, by=by)
        return made

    def set_role(self, name: str, role: str, by: str = "cli") -> None:
        _check_role(role)
        self._change(name, "UPDATE users SET role=? WHERE name=?", (role,), "user.role",
                     {"role": role}, by, keep_admin=role != "admin")

    def set_password(self, name: str, password: str, by: str = "cli",
                     current: str | None = None) -> None:
        """``by`` changing their own password must give ``current`` too."""
        _check_password(password)
        if by == name and self.verify(name, current or "") is None:
            raise AccountError("自分のパスワードを変えるときは、今のパスワードを正しく入力してください")
        self._change(name, "UPDATE users SET password_hash=? WHERE name=?",
                     (_hasher.hash(password),), "user.password", {}, by)

    def set_disabled(self, name: str, disabled: bool, by: str = "cli") -> None:
        self._change(name, "UPDATE users SET disabled=? WHERE name=?", (int(disabled),),
                     "user.disable" if disabled else "user.enable", {}, by,
                     keep_admin=disabled)

    def tokens_by(self, name: str) -> list[str]:
        """The names of the API tokens ``name`` created."""
        return [r["name"] for r in self.store.query(
            "SELECT name FROM tokens WHERE created_by=? ORDER BY name", (name,))]

    def users(self) -> list[dict]:
        return [dict(r, disabled=bool(r["disabled"])) for r in self.store.query(
            "SELECT name, role, created_at, disabled FROM users ORDER BY name")]

    def verify(self, name: str, password: str) -> dict | None:
        """The user if the password matches and the account is enabled, else None
        (the same argon2 work either way; over-long input is refused before hashing)."""
        if len(name) > MAX_NAME or len(password) > MAX_PASSWORD:
            return None
        rows = self.store.query("SELECT * FROM users WHERE name=?", (name,))
        stored = rows[0]["password_hash"] if rows else _DUMMY_HASH
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if not rows or rows[0]["disabled"]:
            return None
        return {"name": rows[0]["name"], "role": rows[0]["role"]}

    def user(self, name: str) -> dict | None:
        """An enabled user's name and role."""
        rows = self.store.query("SELECT name, role FROM users WHERE name=? AND disabled=0",
                                (name,))
        return dict(rows[0]) if rows else None

    # -- tokens ----------------------------------------------------------------------
    def create_token(self, name: str, by: str = "cli", scope: str = "bulletins",
                     expires_at: dt.datetime | None = None) -> str:
        _check_name(name)
        if scope not in SCOPES:
            raise AccountError(f"スコープは {' か '.join(SCOPES)} です")
        if expires_at is not None and expires_at <= self.clock.now():
            raise AccountError("有効期限が過去になっています")
        if self.store.query("SELECT 1 FROM tokens WHERE name=?", (name,)):
            raise AccountError(f"トークン {name} はすでにあります（先に revoke してください）")
        token = secrets.token_urlsafe(32)
        self.store.execute(
            "INSERT INTO tokens(name,token_hash,created_at,scope,expires_at,created_by)"
            " VALUES (?,?,?,?,?,?)",
            (name, _token_hash(token), iso(self.clock.now()), scope, iso(expires_at), by))
        self.audit(by, "token.create", {"name": name, "scope": scope,
                                        "expires_at": iso(expires_at)})
        return token

    def revoke_token(self, name: str, by: str = "cli") -> None:
        if not self.store.execute("DELETE FROM tokens WHERE name=?", (name,)).rowcount:
            raise AccountError(f"トークン {name} はありません")
        self.audit(by, "token.revoke", {"name": name})

    def tokens(self) -> list[dict]:
        return [dict(r) for r in self.store.query(
            "SELECT name, scope, created_at, expires_at, last_used_at, created_by"
            " FROM tokens ORDER BY name")]

    def token(self, token: str) -> dict | None:
        """The name and scope of a valid (known, unexpired) token; notes its use."""
        if not isinstance(token, str) or len(token) > 200:
            return None
        rows = self.store.query("SELECT name, scope, expires_at, last_used_at FROM tokens"
                                " WHERE token_hash=?", (_token_hash(token),))
        if not rows:
            return None
        row, now = rows[0], self.clock.now()
        if row["expires_at"] and dt.datetime.fromisoformat(row["expires_at"]) <= now:
            return None
        last = row["last_used_at"]
        if not last or now - dt.datetime.fromisoformat(last) > dt.timedelta(minutes=1):
            self.store.touch("UPDATE tokens SET last_used_at=? WHERE name=?",
                             (iso(now), row["name"]))
        return {"name": row["name"], "scope": row["scope"]}

    def token_owner(self, token: str) -> str | None:
        found = self.token(token)
        return found["name"] if found else None

    # -- audit -----------------------------------------------------------------------
    def audit(self, who: str, action: str, detail: dict) -> None:
        self.store.execute("INSERT INTO audit(at, who, action, detail) VALUES (?,?,?,?)",
                           (iso(self.clock.now()), str(who)[:80], action[:64],
                            json.dumps(_capped(detail), ensure_ascii=False)))

    def audit_log(self, day: dt.date | None = None, limit: int = 500) -> list[dict]:
        if day is None:
            rows = self.store.query("SELECT * FROM audit ORDER BY rowid DESC LIMIT ?", (limit,))
        else:
            rows = self.store.query("SELECT * FROM audit WHERE at LIKE ? ORDER BY rowid DESC"
                                    " LIMIT ?", (f"{day.isoformat()}%", limit))
        return [dict(r, detail=json.loads(r["detail"])) for r in rows]


_DUMMY_HASH = _hasher.hash("not-a-real-password")
