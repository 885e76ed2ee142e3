"""A minimal browser for tests against a served app (waitress or the daemon): one
session cookie, the login form's CSRF token, and a chosen loopback source address
(127.0.0.x), so a test can be "another PC"."""

import http.client
import json as jsonlib
import re
import time
from urllib.parse import urlencode

COOKIE = "announcer_session"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    def __init__(self, port: int, addr: str = "127.0.0.1", timeout: float = 30):
        self.port, self.addr, self.timeout = port, addr, timeout
        self.cookie = ""
        self.csrf = ""

    def request(self, method: str, path: str, *, form=None, json=None, body: bytes = None,
                headers: dict | None = None):
        """(status, headers dict, body bytes, seconds taken)."""
        headers = dict(headers or {})
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif json is not None:
            body = jsonlib.dumps(json).encode()
            headers["Content-Type"] = "application/json"
        if self.cookie:
            headers["Cookie"] = f"{COOKIE}={self.cookie}"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout,
                                          source_address=(self.addr, 0))
        started = time.monotonic()
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        taken = time.monotonic() - started
        for name, value in resp.getheaders():
            if name.lower() == "set-cookie" and value.startswith(COOKIE + "="):
                self.cookie = value.split(";", 1)[0].split("=", 1)[1]
        return resp.status, dict(resp.getheaders()), data, taken

    def get(self, path: str):
        status, headers, data, taken = self.request("GET", path)
        found = _CSRF.search(data.decode("utf-8", "replace"))
        if found:
            self.csrf = found.group(1)
        return status, headers, data, taken

    def login(self, name: str, password: str) -> int:
        self.get("/login")
        return self.request("POST", "/login", form={"csrf_token": self.csrf, "name": name,
                                                     "password": password})[0]

    def post_json(self, path: str, body: dict):
        return self.request("POST", path, json=body, headers={"X-CSRF-Token": self.csrf})
