/* The status board: polls /staff/status every second and redraws a section only
   when its data changed, so a button is never replaced under a finger. */
"use strict";

(function () {
  var A = window.Announcer;
  var POLL_MS = 1000;
  var last = {};
  var lastOk = Date.now();

  function stopForm(id) {
    var form = A.el("form", "stop-form");
    form.method = "post";
    form.action = "/staff/bulletins/" + encodeURIComponent(id) + "/stop";
    var token = A.el("input");
    token.type = "hidden";
    token.name = "csrf_token";
    token.value = A.csrf();
    var button = A.el("button", "btn btn-stop", "停止");
    button.type = "submit";
    form.append(token, button);
    return form;
  }

  function tag(kind, label) {
    return A.el("span", "tag tag-" + kind, label);
  }

  function drawOnAir(onAir) {
    var box = document.getElementById("on-air");
    document.getElementById("on-air-card").classList.toggle("is-live", !!onAir);
    if (!onAir) {
      box.replaceChildren(A.el("p", "idle", "いま放送しているものはありません"));
      return;
    }
    var line = A.el("p", "on-air-line");
    line.append(A.el("span", "badge badge-live", "ON AIR"), " ", tag(onAir.kind, onAir.label),
                " ", A.el("span", "since", onAir.since + " から"));
    var title = A.el("p", "on-air-title", onAir.title);
    title.id = "on-air-title";
    box.replaceChildren(line, title);
    if (onAir.kind === "bulletin") { box.append(stopForm(onAir.id)); }
  }

  function drawQueue(queue) {
    var items = queue.map(function (q) {
      var li = A.el("li");
      li.append(tag(q.kind, q.label), " ", A.el("span", "title", q.title));
      if (q.kind === "bulletin") { li.append(stopForm(q.id)); }
      return li;
    });
    if (!items.length) { items = [A.el("li", "empty", "待っているものはありません")]; }
    document.getElementById("queue").replaceChildren(...items);
  }

  function drawToday(today) {
    var items = today.map(function (n) {
      var li = A.el("li");
      li.append(A.el("span", "time", n.at), " ", A.el("span", "title", n.title));
      return li;
    });
    if (!items.length) { items = [A.el("li", "empty", "今日これからのお知らせはありません")]; }
    var list = document.getElementById("today");
    list.replaceChildren(...items);
  }

  function drawAirlog(rows) {
    var body = document.getElementById("airlog");
    var trs = rows.map(function (r) {
      var tr = A.el("tr", "st-" + r.status);
      [r.time, r.kind_label, r.title, r.status_label, r.detail].forEach(function (v) {
        tr.append(A.el("td", null, v));
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
    body.replaceChildren(...trs);
  }

  function drawHealth(health) {
    var box = document.getElementById("health");
    var ok = health.audio.ok;
    box.className = "health " + (ok ? "health-ok" : "health-bad");
    var parts = [];
    if (ok) {
      var p = A.el("p");
      p.append(A.el("strong", "health-state", "機器: 正常"), " ",
               A.el("span", "detail", health.audio.detail));
      parts.push(p);
    } else {
      var head = A.el("p");
      head.append(A.el("strong", "health-state", "機器に異常があります（音声が出ていません）"));
      parts.push(head, A.el("p", "detail", health.audio.detail),
                 A.el("p", null, "受け付けた緊急放送は消えません。機器が戻りしだい、最初から放送します。"));
    }
    health.schedule_errors.forEach(function (problem) {
      parts.push(A.el("p", "detail problem", "お知らせファイルの問題: " + problem));
    });
    box.replaceChildren(...parts);
  }

  var sections = {
    on_air: drawOnAir, queue: drawQueue, today: drawToday, airlog: drawAirlog,
    health: drawHealth
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
    var conn = document.getElementById("conn");
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
    }
    window.setTimeout(poll, POLL_MS);
  }

  async function stop(form) {
    var button = form.querySelector("button");
    button.disabled = true;
    button.textContent = "停止中…";
    var error = document.getElementById("board-error");
    try {
      var resp = await A.post(form.action, {});
      A.show(error, resp.ok ? "" : await A.errorText(resp));
    } catch (e) {
      A.show(error, "停止を送れませんでした。もう一度押してください。");
    }
    button.disabled = false;
    button.textContent = "停止";
    last = {};  // redraw everything on the next poll
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.classList && form.classList.contains("stop-form")) {
      event.preventDefault();
      stop(form);
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    window.setTimeout(poll, POLL_MS);
  });
})();
