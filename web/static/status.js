/* The status board: polls /staff/status every second and redraws a section only
   when its data changed, so a button is never replaced under a finger. 停止 asks once
   in a large in-page panel, then says when it stopped. When the server cannot be
   reached the health box turns red: the page no longer knows what is on air. */
"use strict";

(function () {
  var A = window.Announcer;
  var POLL_MS = 1000;
  var OFFLINE_AFTER_MS = 4000;  // one missed poll is a hiccup, several are an outage
  var last = {};
  var lastOk = Date.now();
  var pendingStop = null;

  function $(id) { return document.getElementById(id); }

  /* A one-button POST form with the CSRF token (the page's own forms are the same). */
  function postForm(formClass, action, buttonClass, label) {
    var form = A.el("form", formClass);
    form.method = "post";
    form.action = action;
    var token = A.el("input");
    token.type = "hidden";
    token.name = "csrf_token";
    token.value = A.csrf();
    var button = A.el("button", buttonClass, label);
    button.type = "submit";
    form.append(token, button);
    return form;
  }

  function stopForm(kind, id, title) {
    var form = postForm("stop-form", (kind === "bulletin" ? "/staff/bulletins/" :
      "/staff/notices/") + encodeURIComponent(id) + "/stop", "btn btn-stop", "停止");
    form.dataset.title = title;
    return form;
  }

  function ackForm(rowid) {
    return postForm("ack-form", "/staff/airlog/" + encodeURIComponent(rowid) + "/ack", "btn",
                    "確認しました");
  }

  /* Partial and failed airings stay here, in red, until someone acknowledges them. */
  function drawAttention(rows) {
    $("attention").hidden = rows.length === 0;
    $("attention-rows").replaceChildren(...rows.map(function (a) {
      var li = A.el("li");
      li.append(A.el("span", "st st-" + a.status, a.status_label), " ",
                A.el("span", "time", a.time), " ", tag(a.kind, a.kind_label), " ",
                A.el("span", "title", a.title), " ", A.el("span", "why", a.detail),
                ackForm(a.rowid));
      return li;
    }));
  }

  function tag(kind, label) {
    return A.el("span", "tag tag-" + kind, label);
  }

  function drawOnAir(onAir) {
    var box = $("on-air");
    $("on-air-card").classList.toggle("is-live", !!onAir);
    if (!onAir) {
      box.replaceChildren(A.el("p", "idle", "いま放送しているものはありません"));
      return;
    }
    var line = A.el("p", "on-air-line");
    line.append(A.el("span", "badge badge-live", "ON AIR"), " ", tag(onAir.kind, onAir.label),
                " ", A.el("span", "since", onAir.since + " から"));
    var title = A.el("p", "on-air-title", onAir.title);
    title.id = "on-air-title";
    box.replaceChildren(line, title, stopForm(onAir.kind, onAir.id, onAir.title));
  }

  function drawQueue(queue) {
    var items = queue.map(function (q) {
      var li = A.el("li");
      li.append(A.el("span", "pos", q.position), " ", tag(q.kind, q.label), " ",
                A.el("span", "title", q.title));
      if (q.kind === "bulletin") { li.append(stopForm(q.kind, q.id, q.title)); }
      li.append(A.el("span", "why", q.reason));
      return li;
    });
    if (!items.length) { items = [A.el("li", "empty", "待っているものはありません")]; }
    $("queue").replaceChildren(...items);
  }

  function drawToday(today) {
    var items = today.map(function (n) {
      var li = A.el("li");
      li.append(A.el("span", "time", n.at), " ", A.el("span", "title", n.title));
      return li;
    });
    if (!items.length) { items = [A.el("li", "empty", "今日これからのお知らせはありません")]; }
    $("today").replaceChildren(...items);
  }

  var LOG_LABELS = ["時刻", "種類", "件名", "結果", "備考"];

  function drawAirlog(rows) {
    var trs = rows.map(function (r) {
      var tr = A.el("tr", "st-" + r.status);
      [r.time, r.kind_label, r.title, r.status_label, r.detail].forEach(function (v, i) {
        var td = A.el("td", null, v);
        td.dataset.label = LOG_LABELS[i];
        tr.append(td);
      });
      return tr;
    });
    if (!trs.length) {
      var td = A.el("td", null, "今日の記録はまだありません");
      td.colSpan = 5;
      var tr = A.el("tr", "empty");
      tr.append(td);
      trs = [tr];
    }
    $("airlog").replaceChildren(...trs);
  }

  function drawHealthBox(h) {
    var box = $("health");
    box.className = "health health-" + h.level;
    var parts = [A.el("p")];
    parts[0].append(A.el("strong", "health-state", h.headline));
    h.advice.forEach(function (line) { parts.push(A.el("p", "advice", line)); });
    if (h.details.length) {
      var details = A.el("details", "tech");
      details.append(A.el("summary", null, "詳しい情報（技術担当向け）"));
      h.details.forEach(function (line) { details.append(A.el("p", "detail", line)); });
      parts.push(details);
    }
    box.replaceChildren(...parts);
  }

  function offline(seconds) {
    drawHealthBox({
      level: "bad",
      headline: "サーバーにつながりません（表示は " + seconds + " 秒前のものです）",
      advice: ["この画面では、いま何が放送されているか分かりません。放送は続いている可能性があります。",
               "ネットワークの接続を確かめ、ページを読み込み直してください。直らなければ技術担当に連絡してください。"],
      details: ["/staff/status に応答がありません"]
    });
    last.health_view = null;  // redraw the server's view once it answers again
  }

  var sections = {
    on_air: drawOnAir, queue: drawQueue, today: drawToday, airlog: drawAirlog,
    attention: drawAttention,
    health_view: drawHealthBox
  };

  function draw(data) {
    Object.keys(sections).forEach(function (key) {
      var json = JSON.stringify(data[key]);
      if (json !== last[key]) {
        last[key] = json;
        sections[key](data[key]);
      }
    });
  }

  function setConn(text, bad) {
    var conn = $("conn");
    conn.textContent = text;
    conn.classList.toggle("conn-bad", bad);
  }

  async function poll() {
    try {
      var resp = await fetch("/staff/status", {credentials: "same-origin",
                                               headers: {"Accept": "application/json"}});
      if (resp.status === 401) {
        window.location.assign("/login?next=" + encodeURIComponent(location.pathname));
        return;
      }
      if (!resp.ok) { throw new Error(String(resp.status)); }
      var data = await resp.json();
      draw(data);
      lastOk = Date.now();
      setConn(data.now + " 現在（自動更新）", false);
    } catch (e) {
      var ago = Math.round((Date.now() - lastOk) / 1000);
      setConn("サーバーにつながりません。表示は " + ago + " 秒前のものです", true);
      if (Date.now() - lastOk >= OFFLINE_AFTER_MS) { offline(ago); }
    }
    window.setTimeout(poll, POLL_MS);
  }

  /* -- stop: ask once, then say when -------------------------------------------- */
  function askStop(form) {
    pendingStop = form;
    $("stop-confirm-what").textContent = "「" + (form.dataset.title || "") + "」";
    $("stop-confirm").hidden = false;
    $("stop-cancel").focus();
  }

  function closeAsk() {
    $("stop-confirm").hidden = true;
    var form = pendingStop;
    pendingStop = null;
    return form;
  }

  async function stop(form) {
    var button = form.querySelector("button");
    button.disabled = true;
    button.textContent = "停止中…";
    var error = $("board-error");
    var sent = $("sent");
    if (sent) { sent.remove(); }  // the old "accepted" banner would now mislead
    A.show($("stopped"), "");
    try {
      var resp = await A.post(form.action, {});
      if (resp.ok) {
        var data = await resp.json();
        A.show(error, "");
        A.show($("stopped"), "停止しました（" + data.stopped_at + "）「" +
               (form.dataset.title || "") + "」");
      } else {
        A.show(error, await A.errorText(resp));
      }
    } catch (e) {
      A.show(error, "停止を送れませんでした。もう一度押してください。");
    }
    button.disabled = false;
    button.textContent = "停止";
    last = {};  // redraw everything on the next poll
  }

  async function acknowledge(form) {
    var button = form.querySelector("button");
    button.disabled = true;
    try {
      var resp = await A.post(form.action, {});
      if (!resp.ok) { A.show($("board-error"), await A.errorText(resp)); }
    } catch (e) {
      A.show($("board-error"), "送れませんでした。もう一度押してください。");
    }
    last = {};
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.classList && form.classList.contains("ack-form")) {
      event.preventDefault();
      acknowledge(form);
      return;
    }
    if (form.classList && form.classList.contains("stop-form")) {
      event.preventDefault();
      askStop(form);
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !$("stop-confirm").hidden) { closeAsk(); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    $("stop-cancel").addEventListener("click", closeAsk);
    $("stop-yes").addEventListener("click", function () {
      var form = closeAsk();
      if (form) { stop(form); }
    });
    window.setTimeout(poll, POLL_MS);
  });
})();
