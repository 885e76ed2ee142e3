"""Official information from the Japan Meteorological Agency (気象庁防災情報XML), on air.

Rules (Weather Service Act art. 23: the station relays what JMA said, it never composes
a warning):

- Messages come from the configured Atom pull feeds (``feed``, one thread each) and from
  an inbox folder (``inbox``); ``intake`` reports their health on the events bus. Every
  byte is hostile until ``parse`` (with ``bodies``) accepted it, linearly and within a
  time budget. A rejected message never airs and is logged.
- The rules are one pure function (``rules.step``: state, message, now → new state,
  actions), with ``readers`` (what a message of each type means) and ``standing`` (what
  is in force per town and hazard) beneath it and ``policy`` (categories, levels,
  settings) beside it; ``state`` is what they remember. ``service`` only applies the
  actions and stores the state with ``store``, in one transaction per message.
- ``auto`` items cut in (the emergency lane), ``approve`` items wait for staff as drafts,
  ``log`` items are listed; 訓練/試験 and other areas never air; too old never airs by
  itself; 取消 withdraws.
- ``wording`` builds the spoken text only from the message's own fields and words, with
  the templates in ``voices/jma/templates.yaml``: time and issuer first.
"""
