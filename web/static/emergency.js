/* The emergency form and its confirmation: templates with blanks, the kana reading,
   the audio preview, and a submit that is sent once (the server also deduplicates on
   the form's request_key, so a retry after a network error is safe). */
"use strict";

(function () {
  var A = window.Announcer;
  var BLANK = /【[\s　○〇＿_]*】/g;  // keep in sync with BLANK in announcer/web/pages.py
  var MAX_CHARS = 5000;
  var DRAFT = "announcer.draft";  // survives a reload or a login in this tab

  function $(id) { return document.getElementById(id); }

  /* The form's fields as the JSON the /staff endpoints take. */
  function payload(form) {
    var fd = new FormData(form);
    return {
      text: String(fd.get("text") || ""),
      repeat: parseInt(fd.get("repeat") || "2", 10),
      interrupt: fd.get("timing") !== "after",
      chime: fd.get("chime") === "on",
      test: fd.get("test") === "on"
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

  function countBlanks(text) {
    return (text.match(BLANK) || []).length;
  }

  /* Select the next blank after the caret (wrapping), so typing replaces it. */
  function selectNextBlank(textarea) {
    var re = new RegExp(BLANK.source, "g");
    re.lastIndex = textarea.selectionEnd || 0;
    var m = re.exec(textarea.value);
    if (!m) {
      re.lastIndex = 0;
      m = re.exec(textarea.value);
    }
    textarea.focus();
    if (m) { textarea.setSelectionRange(m.index, m.index + m[0].length); }
    return !!m;
  }

  function showReading(form, button) {
    return A.showReading(button, "/staff/reading", function () { return payload(form); });
  }

  function playPreview(form, button) {
    return A.playPreview(button, "/staff/preview", function () { return payload(form); });
  }

  function setupForm(form) {
    var text = $("text");
    var readingBox = $("reading-box");

    function update() {
      var blanks = countBlanks(text.value);
      $("char-count").textContent = text.value.length + " / " + MAX_CHARS + " 文字";
      $("blank-count").textContent = "空欄 残り " + blanks + " か所";
      $("blank-count").classList.toggle("has-blanks", blanks > 0);
      readingBox.classList.add("stale");
    }

    if (!text.value && storage("get")) {
      text.value = storage("get");
      $("draft-note").hidden = false;
      update();
    }
    text.addEventListener("input", function () {
      update();
      storage("set", text.value);
    });
    document.querySelectorAll(".btn-template").forEach(function (button) {
      button.addEventListener("click", function () {
        var script = button.dataset.script;
        if (text.value.trim() && text.value !== script &&
            !window.confirm("入力中の原稿を「" + button.textContent + "」のひな形で置き換えますか？")) {
          return;
        }
        text.value = script;
        $("test").checked = button.dataset.drill === "1";
        update();
        storage("set", script);
        text.setSelectionRange(0, 0);
        selectNextBlank(text);
      });
    });
    $("next-blank").addEventListener("click", function () { selectNextBlank(text); });
    $("reading-btn").addEventListener("click", function (e) { showReading(form, e.currentTarget); });
    $("preview-btn").addEventListener("click", function (e) { playPreview(form, e.currentTarget); });
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
