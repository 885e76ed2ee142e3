"""``announcer check``: every problem of the config and notice files, and what airs next."""

import datetime as dt
from pathlib import Path

from announcer.core.config import load_config
from announcer.core.errors import ConfigError
from announcer.notices import schedule
from announcer.notices.files import load_notice_dir
from announcer.studio.voices import load_voices


def check_station(config_path: Path) -> tuple[list[str], list]:
    """Every problem of the config and notice files, and the next 24 h of airings."""
    try:
        config = load_config(config_path)
    except ConfigError as e:
        return e.problems, []
    notices = load_notice_dir(config.paths.schedules, default_grace=config.playout.grace)
    problems = [p for errors in notices.errors.values() for p in errors]
    try:
        voices = load_voices(config.paths.voices)
    except ConfigError as e:
        problems += e.problems
    else:
        # A notice naming a voice that is not there airs in the default voice; say so.
        problems += [f"{n.source}: voice: 声のプリセット \"{n.voice}\" がありません"
                     f"（{config.speech.voice} で読みます）"
                     for n in notices.notices.values() if n.voice and n.voice not in voices]
        problems += [f"{config.path}: {key}: 声のプリセット \"{name}\" がありません"
                     for key, name in (("speech.voice", config.speech.voice),
                                       ("jma.voice", config.jma.voice),
                                       *(("speech.rotation", v)
                                         for _t, v in config.speech.rotation))
                     if name is not None and name not in voices]
    tz = config.station.timezone
    now = dt.datetime.now(tz)
    upcoming = [(a.at, notices.notices[a.notice_id]) for a in
                schedule.airings_between(notices.notices.values(), now,
                                         now + dt.timedelta(hours=24), tz=tz)]
    return problems, upcoming
