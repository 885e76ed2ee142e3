/* The reading dictionary page: live mora count and accent mark for the word being
   typed, the try-out (reading and audio, with the current dictionary and with the
   unsaved word) and a live filter of the word list. Server data goes on the page only
   through textContent. */
"use strict";

(function () {
  var A = window.Announcer;
  var SMALL = "ァィゥェォャュョヮ";  // as announcer/readings/rows.py SMALL_KANA
  var FIELDS = ["surface", "pronunciation", "accent_type", "priority"];
  var previewUrl = null;

  function $(id) { return document.getElementById(id); }

  function katakana(text) {
    return text.replace(/[ぁ-ゖ]/g, function (c) {
      return String.fromCharCode(c.charCodeAt(0) + 0x60);
    });
  }

  function morae(kana) {
    var out = [];
    Array.from(kana).forEach(function (c) {
      if (SMALL.indexOf(c) >= 0 && out.length) { out[out.length - 1] += c; } else { out.push(c); }
    });
    return out;
  }

  /* Like accent_notation in announcer/readings/staff.py; "" while the input is not usable. */
  function notation(kana, accentText) {
    if (!/^[ァ-ヴー]+$/.test(kana) || !/^[0-9]+$/.test(accentText)) { return ""; }
    var parts = morae(kana);
    var accent = parseInt(accentText, 10);
    if (accent > parts.length) { return ""; }
    var nucleus = accent > 0 ? accent : parts.length;
    return parts.slice(0, nucleus).join("") + "'" + parts.slice(nucleus).join("");
  }

  function updateInfo() {
    var kana = $("pronunciation").value.trim();
    var mark = notation(kana, $("accent_type").value.trim());
    $("mora-count").textContent = mark ? String(morae(kana).length) : "—";
    $("accent-notation").textContent = mark || "—";
  }

  function showFieldErrors(fields) {
    FIELDS.forEach(function (name) {
      var list = $(name + "-error");
      var messages = (fields && fields[name]) || [];
      list.textContent = "";
      messages.forEach(function (m) { list.appendChild(A.el("li", null, m)); });
      list.hidden = messages.length === 0;
      $(name).toggleAttribute("aria-invalid", messages.length > 0);
    });
  }

  function payload() {
    var body = {text: $("sample").value, voice: $("sample-voice").value || null};
    FIELDS.forEach(function (name) { body[name] = $(name).value; });
    return body;
  }

  /* Which dictionary each word of the reading came from (area list, hand-made, staff). */
  function showOrigins(origins) {
    var list = $("reading-origins");
    list.textContent = "";
    origins.forEach(function (o) {
      var item = document.createElement("li");
      item.textContent = o.surface + " " + o.reading + " ← " + o.origin + "（" + o.file + "）";
      list.appendChild(item);
    });
  }

  async function showReading(button) {
    var error = $("try-error");
    button.disabled = true;
    A.show(error, "");
    try {
      var resp = await A.post("/staff/readings/reading", payload());
      if (resp.ok) {
        var data = await resp.json();
        $("reading-now").textContent = data.reading;
        showOrigins(data.origins || []);
        $("reading-with").textContent = data.with_entry || "—";
        A.show($("reading-note"), data.note || (data.with_entry ? "" :
          "表記と読みを入力すると、登録したときの読みと比べられます。"));
        showFieldErrors(data.fields);
        $("compare").hidden = false;
      } else {
        A.show(error, await A.errorText(resp));
      }
    } catch (e) {
      A.show(error, "サーバーにつながりません。もう一度押してください。");
    }
    button.disabled = false;
  }

  async function play(button) {
    var audio = $("preview-audio");
    var error = $("try-error");
    var label = button.textContent;
    var body = payload();
    body.with_entry = button.dataset.withEntry === "1";
    button.disabled = true;
    button.textContent = "音声を準備中…";
    A.show(error, "");
    try {
      var resp = await A.post("/staff/readings/preview", body);
      if (resp.ok) {
        if (previewUrl) { URL.revokeObjectURL(previewUrl); }
        // arrayBuffer, not blob(): a body streamed to a blob is invisible to devtools
        // (and to the browser test that compares the audio before and after a change).
        var wav = await resp.arrayBuffer();
        previewUrl = URL.createObjectURL(new Blob([wav], {type: "audio/wav"}));
        audio.src = previewUrl;
        audio.hidden = false;
        audio.play().catch(function () { /* autoplay refused: the controls remain */ });
      } else {
        var data = null;
        try { data = await resp.clone().json(); } catch (e) { /* not JSON */ }
        if (data && data.fields) { showFieldErrors(data.fields); }
        A.show(error, await A.errorText(resp));
      }
    } catch (e) {
      A.show(error, "サーバーにつながりません。もう一度押してください。");
    }
    button.disabled = false;
    button.textContent = label;
  }

  function filterList(query) {
    var q = query.trim();
    var kana = katakana(q);
    document.querySelectorAll("#word-list tbody tr[data-surface]").forEach(function (row) {
      row.hidden = !!q && row.dataset.surface.indexOf(q) < 0 && row.dataset.reading.indexOf(kana) < 0;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!$("entry-form")) { return; }
    ["pronunciation", "accent_type"].forEach(function (name) {
      $(name).addEventListener("input", updateInfo);
    });
    FIELDS.forEach(function (name) {
      $(name).addEventListener("input", function () {
        $(name + "-error").hidden = true;
        $(name).removeAttribute("aria-invalid");
        $("compare").classList.add("stale");
      });
    });
    $("sample").addEventListener("input", function () { $("compare").classList.add("stale"); });
    $("reading-btn").addEventListener("click", function (e) {
      $("compare").classList.remove("stale");
      showReading(e.currentTarget);
    });
    $("play-now-btn").addEventListener("click", function (e) { play(e.currentTarget); });
    $("play-with-btn").addEventListener("click", function (e) { play(e.currentTarget); });
    $("q").addEventListener("input", function () { filterList($("q").value); });
    updateInfo();
  });
})();
