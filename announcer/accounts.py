"""Staff accounts, API tokens and the audit log (tables in the station's SQLite file).

Passwords are argon2id hashes; API tokens are random and stored only as a SHA-256
hash (they carry 256 bits of entropy, so a slow hash adds nothing). The audit log is
append-only: SQLite triggers refuse UPDATE and DELETE on it.
"""

import datetime as dt
import hashlib
import json
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from announcer.errors import AnnouncerError
from announcer.store import Store, iso

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

ROLES = ("operator", "admin")
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_hasher = PasswordHasher()


class AccountError(AnnouncerError):
    pass


def _check_name(name: str) -> None:
    if not _NAME.match(name or ""):
        raise AccountError("名前は半角英数字と _ . @ - で 64 文字以内にしてください")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Accounts:
    def __init__(self, store: Store, clock):
        self.store, self.clock = store, clock
        store.ensure_schema(SCHEMA)

    # -- users -----------------------------------------------------------------------
    def add_user(self, name: str, password: str, role: str = "operator", by: str = "cli") -> None:
        _check_name(name)
        if role not in ROLES:
            raise AccountError(f"役割は {' か '.join(ROLES)} です")
        if len(password) < 8:
            raise AccountError("パスワードは 8 文字以上にしてください")
        if self.store.query("SELECT 1 FROM users WHERE name=?", (name,)):
            raise AccountError(f"ユーザー {name} はすでにあります")
        self.store.execute("INSERT INTO users VALUES (?,?,?,?)",
                           (name, _hasher.hash(password), role, iso(self.clock.now())))
        self.audit(by, "user.add", {"name": name, "role": role})

    def remove_user(self, name: str, by: str = "cli") -> None:
        if not self.store.execute("DELETE FROM users WHERE name=?", (name,)).rowcount:
            raise AccountError(f"ユーザー {name} はありません")
        self.audit(by, "user.remove", {"name": name})

    def users(self) -> list[dict]:
        return [dict(r) for r in self.store.query(
            "SELECT name, role, created_at FROM users ORDER BY name")]

    def verify(self, name: str, password: str) -> dict | None:
        """The user if the password matches, else None (constant work either way)."""
        rows = self.store.query("SELECT * FROM users WHERE name=?", (name,))
        stored = rows[0]["password_hash"] if rows else _DUMMY_HASH
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        return {"name": rows[0]["name"], "role": rows[0]["role"]} if rows else None

    def user(self, name: str) -> dict | None:
        rows = self.store.query("SELECT name, role FROM users WHERE name=?", (name,))
        return dict(rows[0]) if rows else None

    # -- tokens ----------------------------------------------------------------------
    def create_token(self, name: str, by: str = "cli") -> str:
        _check_name(name)
        if self.store.query("SELECT 1 FROM tokens WHERE name=?", (name,)):
            raise AccountError(f"トークン {name} はすでにあります（先に revoke してください）")
        token = secrets.token_urlsafe(32)
        self.store.execute("INSERT INTO tokens VALUES (?,?,?)",
                           (name, _token_hash(token), iso(self.clock.now())))
        self.audit(by, "token.create", {"name": name})
        return token

    def revoke_token(self, name: str, by: str = "cli") -> None:
        if not self.store.execute("DELETE FROM tokens WHERE name=?", (name,)).rowcount:
            raise AccountError(f"トークン {name} はありません")
        self.audit(by, "token.revoke", {"name": name})

    def tokens(self) -> list[dict]:
        return [dict(r) for r in self.store.query(
            "SELECT name, created_at FROM tokens ORDER BY name")]

    def token_owner(self, token: str) -> str | None:
        rows = self.store.query("SELECT name FROM tokens WHERE token_hash=?",
                                (_token_hash(token),))
        return rows[0]["name"] if rows else None

    # -- audit -----------------------------------------------------------------------
    def audit(self, who: str, action: str, detail: dict) -> None:
        self.store.execute("INSERT INTO audit(at, who, action, detail) VALUES (?,?,?,?)",
                           (iso(self.clock.now()), who, action,
                            json.dumps(detail, ensure_ascii=False)))

    def audit_log(self, day: dt.date | None = None, limit: int = 500) -> list[dict]:
        if day is None:
            rows = self.store.query("SELECT * FROM audit ORDER BY rowid DESC LIMIT ?", (limit,))
        else:
            rows = self.store.query("SELECT * FROM audit WHERE at LIKE ? ORDER BY rowid DESC"
                                    " LIMIT ?", (f"{day.isoformat()}%", limit))
        return [dict(r, detail=json.loads(r["detail"])) for r in rows]


_DUMMY_HASH = _hasher.hash("not-a-real-password")
