"""The exception tree. Edges translate these: the CLI prints one line, the web answers 4xx."""


class AnnouncerError(Exception):
    """Base of every error announcer raises on purpose. ``str()`` is shown to staff."""


class ConfigError(AnnouncerError):
    """A config, notice, voice or dictionary file is invalid.

    ``problems`` holds every problem found, each formatted ``file:line: message``.
    """

    def __init__(self, problems):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class SpeechError(AnnouncerError):
    """Synthesis failed for a reason staff can act on."""


class NothingToSay(SpeechError):
    """The text contains nothing speakable."""

    def __init__(self, message="読み上げられる文字がありません"):
        super().__init__(message)


class AudioError(AnnouncerError):
    """The output device is missing or failed."""


class BulletinError(AnnouncerError):
    """A bulletin the station refuses; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status
