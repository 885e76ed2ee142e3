/* The silence monitor's block on the status page: polls /staff/monitor every second for
   the meter, and the level history every 30 s (or when the range changes) for the chart.
   Self-contained: needs only the block in _monitor.html. */
"use strict";

(function () {
  var SVG = "http://www.w3.org/2000/svg";
  var W = 600, H = 120, TOP = 0, BOTTOM = -70;   // chart: 0 dBFS at the top, -70 at the bottom
  var minutes = 60;
  var lastHistory = 0;

  function $(id) { return document.getElementById(id); }

  function y(db) {
    var v = Math.max(BOTTOM, Math.min(TOP, db));
    return ((TOP - v) / (TOP - BOTTOM)) * H;
  }

  function svg(tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    return node;
  }

  function drawChart(history, threshold) {
    var chart = $("monitor-chart");
    var span = Math.max(1, history.end - history.start);
    var parts = [];
    var band = [];
    function flush() {
      if (band.length) {
        var up = band.map(function (p) { return p[0] + "," + p[1]; });
        var down = band.slice().reverse().map(function (p) { return p[0] + "," + p[2]; });
        parts.push(svg("polygon", {points: up.concat(down).join(" "), "class": "monitor-band"}));
      }
      band = [];
    }
    history.points.forEach(function (p) {
      var x0 = ((p[0] - history.start) / span) * W;
      var x1 = x0 + Math.max(1, (history.step / span) * W);
      if (p[1] === null) {      // no input: a grey gap
        flush();
        parts.push(svg("rect", {x: x0, y: 0, width: x1 - x0, height: H, "class": "monitor-gap"}));
        return;
      }
      var top = Math.min(y(p[2]), H - 2), bottom = Math.max(y(p[1]), top + 2);
      band.push([x0, top, bottom], [x1, top, bottom]);
    });
    flush();
    parts.push(svg("line", {x1: 0, x2: W, y1: y(threshold), y2: y(threshold),
                            "class": "monitor-threshold"}));
    chart.replaceChildren.apply(chart, parts);
    $("monitor-from").textContent = history.start_label;
  }

  function drawCurrent(c) {
    var state = $("monitor-state");
    var card = $("monitor");
    var text, cls;
    if (c.on_air_silence) {
      text = "放送中なのに無音です。送出の経路をすぐに確認してください"; cls = "monitor-grave";
    } else if (c.silence) {
      text = "無音を検知しています（" + Math.round(c.silent_for) + " 秒）"; cls = "monitor-bad";
    } else if (!c.input_ok) {
      text = "監視の入力が使えません"; cls = "monitor-bad";
    } else if (c.silent_for > 0) {
      text = "音がありません（" + Math.round(c.silent_for) + " 秒、" +
             c.silence_seconds + " 秒で警報）"; cls = "monitor-warn";
    } else {
      text = "音が出ています"; cls = "monitor-ok";
    }
    state.textContent = text;
    card.className = "card monitor-card " + cls;
    var level = c.level === null ? null : Math.round(c.level * 10) / 10;
    $("monitor-meter").value = level === null ? BOTTOM : Math.max(BOTTOM, level);
    $("monitor-level").textContent = (level === null || level <= -120 ? "—" : level.toFixed(1)) + " dBFS";
    $("monitor-detail").textContent = "監視入力: " + c.device +
      (c.input_ok ? "" : "（" + c.input_detail + "）") + "　無音の基準: " + c.threshold + " dBFS";
  }

  async function poll() {
    var wantHistory = Date.now() - lastHistory > 30000;
    try {
      var resp = await fetch("/staff/monitor?minutes=" + minutes + "&history=" + (wantHistory ? 1 : 0),
                             {credentials: "same-origin", headers: {"Accept": "application/json"}});
      if (resp.ok) {
        var data = await resp.json();
        if (data.enabled) {
          drawCurrent(data.current);
          if (data.history) { lastHistory = Date.now(); drawChart(data.history, data.current.threshold); }
        }
      }
    } catch (e) { /* the board's own poll says when the server is unreachable */ }
    window.setTimeout(poll, 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!$("monitor")) { return; }
    document.querySelectorAll(".monitor-ranges .monitor-range").forEach(function (button) {
      button.addEventListener("click", function () {
        minutes = Number(button.dataset.minutes);
        document.querySelectorAll(".monitor-ranges .monitor-range").forEach(function (b) {
          b.setAttribute("aria-pressed", String(b === button));
        });
        lastHistory = 0;
      });
    });
    poll();
  });
})();
