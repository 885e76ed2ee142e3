"""Official information from the Japan Meteorological Agency (気象庁防災情報XML), on air.

Rules (Weather Service Act art. 23: the station relays what JMA said, it never composes
a warning):

- Messages come from the configured Atom pull feeds (``feed``) and from an inbox folder
  (``inbox``). Both only hand raw bytes to one processor thread (``service``); every byte
  is hostile until ``parse`` accepted it.
- ``parse`` refuses DTDs, entities and external references, anything over its size caps,
  and anything that is not a JMA ``Report``. A rejected message never airs and is logged.
- ``policy`` is a pure function of (message, settings): ``auto`` (emergency lane, cuts
  in), ``approve`` (a draft waits on the staff page for ``approve_minutes``), ``log``.
  Status 訓練/試験 and other areas never air.
- ``store`` persists every processed message key, the message in force of each series,
  and every item: a restart or a feed overlap never airs anything twice. A message older
  than the one in force is ignored; 取消 withdraws the series.
- ``wording`` builds the spoken text only from the message's own fields and words, with
  the templates in ``voices/jma/templates.yaml``, credited 「気象庁の発表です。」.
"""
