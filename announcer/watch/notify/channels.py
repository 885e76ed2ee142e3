"""Where alerts go: e-mail through SMTP, and JSON webhooks.

Each channel has ``name`` (for people; a webhook's secret path is masked) and
``send(message)``, which either returns (delivered) or raises; it blocks at most about
``timeout`` seconds per attempt. Callers never call it on the playout path: the couriers
(``announcer.watch.notify.courier``) do, in their own threads.
"""

import email.utils
import json
import smtplib
import ssl
import urllib.error
import urllib.parse
import urllib.request
from email.message import EmailMessage

from announcer.core.errors import AnnouncerError
from announcer.watch.notify.wording import Message


class EmailChannel:
    def __init__(self, cfg, password: str | None = None):
        self.cfg, self._password = cfg, password
        self.name = f"メール {cfg.smtp_host}:{cfg.smtp_port} → {', '.join(cfg.to)}"

    def send(self, message: Message) -> None:
        cfg = self.cfg
        mail = EmailMessage()
        mail["Subject"] = message.subject
        mail["From"] = cfg.sender
        mail["To"] = ", ".join(cfg.to)
        mail["Date"] = email.utils.formatdate(localtime=True)
        mail["Message-ID"] = email.utils.make_msgid(domain=cfg.sender.partition("@")[2])
        mail.set_content(message.text, charset="utf-8")
        with smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=cfg.timeout) as smtp:
            smtp.ehlo()
            if cfg.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if cfg.username:
                smtp.login(cfg.username, self._password or "")
            smtp.send_message(mail)


class WebhookChannel:
    def __init__(self, url: str, timeout: float = 10.0):
        self.url, self.timeout = url, timeout
        self.name = f"Webhook {mask(url)}"

    def send(self, message: Message) -> None:
        body = json.dumps(message.payload, ensure_ascii=False).encode("utf-8")
        req = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", "User-Agent": "announcer"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                resp.read(4096)
        except urllib.error.HTTPError as e:
            raise OSError(f"HTTP {e.code} {e.reason}") from None


def mask(url: str) -> str:
    """Incoming-webhook URLs carry their secret in the path: show only the start."""
    parts = urllib.parse.urlsplit(url)
    path = parts.path if len(parts.path) <= 12 else parts.path[:8] + "…"
    return f"{parts.scheme}://{parts.netloc}{path}"


def build_channels(notify) -> list:
    """Every configured channel. The SMTP password is read from its file here, once."""
    channels = []
    mail = notify.email
    if mail.smtp_host:
        password = None
        if mail.password_file is not None:
            try:
                password = mail.password_file.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise AnnouncerError(f"notify.email.password_file を読めません: "
                                     f"{mail.password_file}: {exc}") from None
        channels.append(EmailChannel(mail, password))
    channels += [WebhookChannel(url) for url in notify.webhooks]
    return channels
