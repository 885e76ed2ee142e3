"""Real receivers for alerts: an SMTP server (aiosmtpd), a webhook receiver, a dead server;
and a tone into the null sink, for the silence monitor to hear."""

import email
import email.policy
import json
import socket
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.daemonutil import free_port


class Mailbox:
    """aiosmtpd on 127.0.0.1; ``messages`` holds each mail as (arrival time, EmailMessage)."""

    def __init__(self, **controller_options):
        from aiosmtpd.controller import Controller

        self.messages: list[tuple[float, email.message.EmailMessage]] = []
        self.envelopes = []
        box = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                box.envelopes.append(envelope)
                box.messages.append((time.time(), email.message_from_bytes(
                    envelope.content, policy=email.policy.default)))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                     **controller_options)

    def start(self) -> "Mailbox":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def subjects(self) -> list[str]:
        return [m["Subject"] for _, m in self.messages]


class Hooks:
    """A local webhook receiver: every POST body (parsed JSON) with its arrival time."""

    def __init__(self, status: int = 200):
        self.received: list[tuple[float, dict]] = []
        self.status = status
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                hooks.received.append((time.time(), json.loads(body.decode("utf-8"))))
                self.send_response(hooks.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T000/B000/secret"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "Hooks":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def bodies(self, state: str | None = None, event: str | None = None) -> list[dict]:
        return [b for _, b in self.received
                if (state is None or b["state"] == state) and (event is None or b["event"] == event)]


class DeadServer:
    """Accepts TCP connections and never says a word: an SMTP server that hangs."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(50)
        self.port = self.sock.getsockname()[1]

    def stop(self) -> None:
        self.sock.close()


class Tone:
    """A sine into the null sink through PortAudio (as if the air chain carried sound)."""

    def __init__(self, env):
        code = textwrap.dedent("""\
            import sys, time, numpy as np, sounddevice as sd
            ph = [0]
            def cb(o, f, t, s):
                n = np.arange(f) + ph[0]; ph[0] += f
                o[:, 0] = 0.1 * np.sin(2 * np.pi * 440 * n / 48000)
            with sd.OutputStream(device="default", samplerate=48000, channels=1,
                                 blocksize=480, callback=cb):
                print("playing", flush=True)
                sys.stdin.read()
            """)
        self.proc = subprocess.Popen([sys.executable, "-c", code], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        assert self.proc.stdout.readline() == b"playing\n"

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()


def wait_until(predicate, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("timed out")


# -- fixtures (import them into a test module) -------------------------------------------
@pytest.fixture
def mailbox():
    box = Mailbox().start()
    yield box
    box.stop()


@pytest.fixture
def hooks():
    h = Hooks().start()
    yield h
    h.stop()
