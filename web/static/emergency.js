/* The emergency form and its confirmation: templates with blanks and a subject, the
   kana reading, the audio preview, and a submit that is sent once (the server also
   deduplicates on the form's request_key, so a retry after a network error is safe).
   Nothing typed is ever cut: over the limit, or with a blank left, the form says so
   next to the field and does not go on. A named blank (【　地区名　】) filled once fills
   every blank of that name; Ctrl+Enter goes to the confirm step from the keyboard. */
"use strict";

(function () {
  var A = window.Announcer;
  // Empty (【　　】) or named (【　地区名　】) blanks; keep in sync with announcer/web/pages.py
  var BLANK = /【[\s　○〇＿_]*】|【[\s　]+[^\s　【】]{1,12}[\s　]+】/g;
  var NAMED = /^【[\s　]+([^\s　【】]{1,12})[\s　]+】$/;
  var MAX_TITLE = 40;
  var DRAFT = "announcer.draft";  // survives a reload or a login in this tab

  function $(id) { return document.getElementById(id); }

  /* The form's fields as the JSON the /staff endpoints take. */
  function payload(form) {
    var fd = new FormData(form);
    return {
      text: String(fd.get("text") || "").replace(/\r\n/g, "\n"),
      title: String(fd.get("title") || ""),
      repeat: parseInt(fd.get("repeat") || "2", 10),
      interrupt: fd.get("timing") !== "after",
      chime: fd.get("chime") === "on",
      test: fd.get("test") === "on",
      voice: String(fd.get("voice") || "") || null  // null: the station's default voice
    };
  }

  function storage(action, value) {
    try {
      if (action === "get") { return window.sessionStorage.getItem(DRAFT) || ""; }
      if (action === "set") { window.sessionStorage.setItem(DRAFT, value); }
      if (action === "clear") { window.sessionStorage.removeItem(DRAFT); }
    } catch (e) { /* storage disabled: no drafts */ }
    return "";
  }

  /* Characters as the server counts them (code points, not UTF-16 units). */
  function chars(text) { return Array.from(text).length; }

  function countBlanks(text) {
    return (text.match(BLANK) || []).length;
  }

  /* The named blank being typed into: what surrounds it, so that what was typed can
     be told apart and fill every other blank of the same name. */
  var active = null;

  /* Select the next blank after the caret (wrapping), so typing replaces it. */
  function selectNextBlank(textarea) {
    fillSame(textarea);
    var re = new RegExp(BLANK.source, "g");
    re.lastIndex = textarea.selectionEnd || 0;
    var m = re.exec(textarea.value);
    if (!m) {
      re.lastIndex = 0;
      m = re.exec(textarea.value);
    }
    textarea.focus();
    if (m) {
      textarea.setSelectionRange(m.index, m.index + m[0].length);
      var named = NAMED.exec(m[0]);
      active = named ? {name: named[1], head: textarea.value.slice(0, m.index),
                        tail: textarea.value.slice(m.index + m[0].length)} : null;
    }
    return !!m;
  }

  /* What was typed into the active named blank fills every blank of that name. */
  function fillSame(textarea) {
    var a = active;
    active = null;
    if (!a) { return false; }
    var v = textarea.value;
    if (v.length < a.head.length + a.tail.length || v.slice(0, a.head.length) !== a.head ||
        v.slice(v.length - a.tail.length) !== a.tail) { return false; }  // edited elsewhere
    var fill = v.slice(a.head.length, v.length - a.tail.length);
    if (!fill.trim() || new RegExp(BLANK.source).test(fill)) { return false; }
    var quoted = a.name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    var same = new RegExp("【[\\s　]+" + quoted + "[\\s　]+】", "g");
    var head = a.head.replace(same, function () { return fill; });  // no $-patterns
    var tail = a.tail.replace(same, function () { return fill; });
    if (head === a.head && tail === a.tail) { return false; }
    textarea.value = head + fill + tail;
    textarea.setSelectionRange(head.length + fill.length, head.length + fill.length);
    textarea.dispatchEvent(new Event("input", {bubbles: true}));
    return true;
  }

  function showReading(form, button) {
    return A.showReading(button, "/staff/reading", function () { return payload(form); });
  }

  function playPreview(form, button) {
    return A.playPreview(button, "/staff/preview", function () { return payload(form); });
  }

  /* What staff wrote into each blank of a template, if the text still has the
     template's shape (else null). */
  function blankFills(template, text) {
    var pieces = template.split(new RegExp(BLANK.source));
    if (pieces.length < 2) { return []; }
    var quoted = pieces.map(function (p) { return p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); });
    var m = new RegExp("^" + quoted.join("([\\s\\S]*?)") + "$").exec(text);
    return m ? m.slice(1) : null;
  }

  function subjectOf(pattern, fills) {
    return pattern.replace(/\{(\d+)\}/g, function (_, n) {
      var fill = (fills[Number(n) - 1] || "").replace(BLANK, "").trim();
      return fill || "　";
    });
  }

  function setupForm(form) {
    var text = $("text");
    var title = $("title");
    var readingBox = $("reading-box");
    var maxChars = parseInt(text.dataset.max, 10);
    var template = null;  // {script, pattern} of the last template chosen
    var titleEdited = !!title.value;

    function overMessage() {
      var over = chars(text.value) - maxChars;
      return over > 0 ? "原稿が " + over + " 文字多すぎます（いま " + chars(text.value) +
        " 文字、上限 " + maxChars + " 文字）。短くしてから確認へ進んでください" : "";
    }

    function titleMessage() {
      var t = title.value.trim();
      if (/[\r\n]/.test(t)) { return "件名は 1 行で書いてください"; }
      return chars(t) > MAX_TITLE ? "件名が " + (chars(t) - MAX_TITLE) + " 文字多すぎます（" +
        chars(t) + " 文字。" + MAX_TITLE + " 文字以内にしてください）" : "";
    }

    function update() {
      var blanks = countBlanks(text.value);
      var over = overMessage();
      $("char-count").textContent = chars(text.value) + " / " + maxChars + " 文字";
      $("char-count").classList.toggle("is-over", !!over);
      $("blank-count").textContent = "空欄 残り " + blanks + " か所";
      $("blank-count").classList.toggle("has-blanks", blanks > 0);
      var error = $("text-error");
      if (over || !error.dataset.blanks || !blanks) {
        A.show(error, over);
        delete error.dataset.blanks;
      }
      text.classList.toggle("has-error", !!over || (!!error.dataset.blanks && blanks > 0));
      readingBox.classList.add("stale");
      if (template && !titleEdited) {
        var fills = blankFills(template.script, text.value);
        if (fills) { title.value = subjectOf(template.pattern, fills); }
      }
    }

    function updateTitle() {
      var message = titleMessage();
      A.show($("title-error"), message);
      title.classList.toggle("has-error", !!message);
    }

    if (!$("text-error").hidden && countBlanks(text.value) && !overMessage()) {
      $("text-error").dataset.blanks = "1";  // the server's "blank left" stays until filled
    }
    if (!text.value && storage("get")) {
      text.value = storage("get");
      $("draft-note").hidden = false;
    }
    update();
    updateTitle();
    text.addEventListener("input", function () {
      update();
      storage("set", text.value);
    });
    title.addEventListener("input", function () {
      titleEdited = !!title.value;
      updateTitle();
    });
    document.querySelectorAll(".btn-template").forEach(function (button) {
      button.addEventListener("click", function () {
        var script = button.dataset.script;
        if (text.value.trim() && text.value !== script &&
            !window.confirm("入力中の原稿を「" + button.textContent + "」のひな形で置き換えますか？")) {
          return;
        }
        text.value = script;
        template = {script: script, pattern: button.dataset.title};
        titleEdited = false;
        $("test").checked = button.dataset.drill === "1";
        update();
        updateTitle();
        storage("set", script);
        text.setSelectionRange(0, 0);
        selectNextBlank(text);
      });
    });
    $("next-blank").addEventListener("click", function () { selectNextBlank(text); });
    text.addEventListener("blur", function () { fillSame(text); });
    /* Ctrl+Enter (⌘+Enter) goes to the confirm step from anywhere in the form. */
    form.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        fillSame(text);
        form.requestSubmit($("to-confirm"));
      }
    });
    $("reading-btn").addEventListener("click", function (e) { showReading(form, e.currentTarget); });
    $("preview-btn").addEventListener("click", function (e) { playPreview(form, e.currentTarget); });

    /* The confirm step is blocked, with the reason next to the field, while the
       script is too long, a blank is left or the subject is too long. */
    form.addEventListener("submit", function (event) {
      fillSame(text);
      var over = overMessage();
      var blanks = countBlanks(text.value);
      var error = $("text-error");
      if (over) {
        event.preventDefault();
        A.show(error, over);
        text.classList.add("has-error");
        text.focus();
        return;
      }
      if (blanks) {
        event.preventDefault();
        A.show(error, "空欄【　　】が " + blanks + " か所残っています。選ばれている空欄を埋めてください");
        error.dataset.blanks = "1";
        text.classList.add("has-error");
        text.setSelectionRange(0, 0);
        selectNextBlank(text);
        return;
      }
      if (titleMessage()) {
        event.preventDefault();
        updateTitle();
        title.focus();
      }
    });
  }

  function setupConfirm(form) {
    var air = $("air-btn");
    var edit = $("edit-btn");
    var error = $("air-error");
    storage("clear");  // the server has the script now (修正する brings it back)
    $("preview-btn").addEventListener("click", function (e) { playPreview(form, e.currentTarget); });

    form.addEventListener("submit", async function (event) {
      if (!event.submitter || event.submitter !== air) { return; }  // 修正する: a normal post
      event.preventDefault();
      if (air.disabled) { return; }
      var label = air.textContent;
      air.disabled = edit.disabled = true;
      air.textContent = "送信中…";
      A.show(error, "");
      var body = payload(form);
      body.request_key = form.elements.request_key.value;
      try {
        var resp = await A.post("/staff/bulletins", body);
        if (resp.status === 202) {
          var data = await resp.json();
          window.location.assign("/?sent=" + encodeURIComponent(data.id));
          return;
        }
        A.show(error, await A.errorText(resp));
      } catch (e) {
        A.show(error, "送信できたか確認できませんでした。もう一度押しても、二重に放送されることはありません。");
      }
      air.disabled = edit.disabled = false;
      air.textContent = label;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if ($("bulletin-form")) { setupForm($("bulletin-form")); }
    if ($("air-form")) { setupConfirm($("air-form")); }
  });
})();
