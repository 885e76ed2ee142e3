"""Staff access: who may do what on the staff page and the API.

- ``accounts``: staff accounts (argon2id), API tokens (hash only, scoped), the
  append-only audit log.
- ``sessions``: server-side staff sessions (revocable, idle and absolute limits).
"""
