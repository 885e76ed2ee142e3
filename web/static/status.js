/* The status board: polls /staff/status every second and redraws a section only
   when its data changed, so a button is never replaced under a finger. 停止 works for
   every item (notice, bulletin, JMA alert), asks once in a large in-page dialog (Tab
   stays inside, Esc closes it and focus returns), then says when it stopped. When the server cannot be
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

  /* 停止 for any item, whatever its kind (notice, bulletin, alert): one URL shape. */
  function stopForm(kind, id, title, label) {
    var form = postForm("stop-form", "/staff/items/" + encodeURIComponent(kind) + "/" +
      encodeURIComponent(id) + "/stop", "btn btn-stop", "停止");
    form.querySelector("button").append(A.el("span", "sr-only", "：「" + title + "」"));
    form.dataset.title = title;
    form.dataset.label = label || "";
    form.dataset.item = kind + ":" + id;
    return form;
  }

  function ackForm(rowid) {
    return postForm("ack-form", "/staff/airlog/" + encodeURIComponent(rowid) + "/ack", "btn",
                    "確認しました");
  }

  function reairLink(rowid) {
    var a = A.el("a", "btn btn-danger", "もう一度放送する…");
    a.href = "/reair/" + encodeURIComponent(rowid);
    return a;
  }

  /* Partial and failed airings stay here, in red, until someone acknowledges them. */
  function drawAttention(rows) {
    $("attention").hidden = rows.length === 0;
    $("attention-rows").replaceChildren(...rows.map(function (a) {
      var li = A.el("li");
      var actions = A.el("span", "card-actions");
      if (a.reair) { actions.append(reairLink(a.rowid)); }
      actions.append(ackForm(a.rowid));
      li.append(A.el("span", "st st-" + a.status, a.status_label), " ",
                A.el("span", "time", a.time), " ", tag(a.kind, a.kind_label), " ",
                A.el("span", "title", a.title), " ", A.el("span", "why", a.detail), actions);
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
    box.replaceChildren(line, title, stopForm(onAir.kind, onAir.id, onAir.title, onAir.label));
  }

  function drawQueue(queue) {
    var items = queue.map(function (q) {
      var li = A.el("li");
      li.append(A.el("span", "pos", q.position), " ", tag(q.kind, q.label), " ",
                A.el("span", "title", q.title));
      li.append(stopForm(q.kind, q.id, q.title, q.label));
      li.append(A.el("span", "why", q.reason));
      return li;
    });
    if (!items.length) { items = [A.el("li", "empty", "待っているものはありません")]; }
    $("queue").replaceChildren(...items);
  }

  function drawToday(today, data) {
    var items = today.map(function (n) {
      var li = A.el("li");
      li.append(A.el("span", "time", n.at), " ", A.el("span", "title", n.title));
      return li;
    });
    if (!items.length) {
      items = [A.el("li", "empty", "今日これからのお知らせはありません。" + (data.next_notice || ""))];
    }
    $("today").replaceChildren(...items);
  }

  var LOG_LABELS = ["時刻", "種類", "件名", "結果", "備考"];

  /* The board lists the day's latest rows only; say so, and how many there are. */
  function drawAirlogMore(shown, total) {
    $("airlog-more").hidden = !(total > shown);
    $("airlog-shown").textContent = shown;
    $("airlog-total").textContent = total;
  }

  function drawAirlog(rows, data) {
    drawAirlogMore(rows.length, data.airlog_total);
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

  /* Where the bulletin just sent is now (the same words as board.sent_note). */
  function drawSent(data) {
    var where = $("sent-where");
    if (!where) { return; }
    var id = $("sent").dataset.id;
    var text = "放送はもう終わりました（下の「今日の放送記録」）。";
    if (data.on_air && data.on_air.id === id) {
      text = "いま放送中です（下の「いま放送中」）。";
    } else {
      data.queue.forEach(function (q) {
        if (q.id === id) { text = "放送待ちの " + q.position + " 番目です（下の「放送待ち（流れる順）」）。"; }
      });
    }
    if (where.textContent !== text) { where.textContent = text; }
  }

  function draw(data) {
    drawSent(data);
    Object.keys(sections).forEach(function (key) {
      var json = JSON.stringify(key === "today" ? [data.today, data.next_notice] : data[key]);
      if (json !== last[key]) {
        last[key] = json;
        sections[key](data[key], data);
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

  /* -- stop: ask once (a dialog that keeps the keyboard), then say when ------------ */
  var STOP_HINTS = {
    alert: "止めた気象庁の情報は、あとから続きを流すことはできません。この発表はもう自動では放送しません。",
    notice: "止めたお知らせは、次の予定の時刻まで放送しません。"
  };

  function askStop(form) {
    pendingStop = form;
    $("stop-confirm-what").textContent = (form.dataset.label || "") + "「" + (form.dataset.title || "") + "」";
    $("stop-confirm-hint").textContent = STOP_HINTS[(form.dataset.item || "").split(":")[0]] ||
      "止めた放送は、あとから続きを流すことはできません。";
    A.openDialog($("stop-confirm"), form.querySelector("button"), $("stop-cancel"),
                 $("on-air-card"));
  }

  function closeAsk(returnFocus) {
    A.closeDialog(returnFocus);
    var form = pendingStop;
    pendingStop = null;
    return form;
  }

  async function stop(form) {
    var button = form.querySelector("button");
    var label = Array.from(button.childNodes).map(function (n) { return n.cloneNode(true); });
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
        $("stopped").focus();  // the button goes with the item: focus stays on the page
      } else {
        A.show(error, await A.errorText(resp));
      }
    } catch (e) {
      A.show(error, "停止を送れませんでした。もう一度押してください。");
    }
    button.disabled = false;
    button.replaceChildren(...label);
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

  document.addEventListener("DOMContentLoaded", function () {
    $("stop-cancel").addEventListener("click", function () { closeAsk(); });
    $("stop-yes").addEventListener("click", function () {
      var form = closeAsk(false);
      if (form) { stop(form); }
    });
    window.setTimeout(poll, POLL_MS);
  });
})();
