"""Where alerts go: e-mail through SMTP, and JSON webhooks.

Each channel has ``name`` (for people; a webhook's secret path is masked) and
``send(message)``, which either returns (delivered) or raises; it blocks at most about
``timeout`` seconds per attempt. Callers never call it on the playout path: the couriers
(``announcer.watch.notify.courier``) do, in their own threads.

A failure that trying again cannot mend raises ``PermanentError``: an SMTP reply 5xx
(unknown recipient, refused sender, failed login, message refused), a server without the
STARTTLS the config asks for, a webhook answering 4xx (except 408 and 429: "try later").
Anything else (a timeout, a refused connection, 4xx from SMTP, 5xx from a webhook) is
temporary and raised as it is.
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


class PermanentError(Exception):
    """The destination refused this message for good; retrying sends nothing."""


def _smtp_permanent(exc: Exception) -> PermanentError | None:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        if codes and all(500 <= c < 600 for c in codes):
            return PermanentError("宛先を受け付けません: " + _refused(exc.recipients))
        return None
    if isinstance(exc, smtplib.SMTPResponseException) and 500 <= exc.smtp_code < 600:
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) \
            else str(exc.smtp_error)
        return PermanentError(f"SMTP {exc.smtp_code} {text}"[:300])
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return PermanentError(f"SMTP サーバーが対応していません: {exc}"[:300])
    return None


def _refused(recipients: dict) -> str:
    def reply(code, text):
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        return f"{code} {text}".strip()
    return ", ".join(f"{rcpt} ({reply(*answer)})"
                     for rcpt, answer in recipients.items())[:300]


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
        try:
            refused = self._deliver(mail)
        except smtplib.SMTPException as exc:
            permanent = _smtp_permanent(exc)
            if permanent is not None:
                raise permanent from None
            raise
        if refused:  # delivered to the others: sending again would repeat it to them
            raise PermanentError("一部の宛先が受け付けません: " + _refused(refused))

    def _deliver(self, mail: EmailMessage) -> dict:
        cfg = self.cfg
        with smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=cfg.timeout) as smtp:
            smtp.ehlo()
            if cfg.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if cfg.username:
                smtp.login(cfg.username, self._password or "")
            return smtp.send_message(mail)


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
            e.close()  # its response holds the connection
            if 400 <= e.code < 500 and e.code not in (408, 429):
                raise PermanentError(f"HTTP {e.code} {e.reason}") from None
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
