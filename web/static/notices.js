/* Notices: confirm before deleting; in the form, add time fields, show the kana
   reading and play an audio preview of what will air. Values reach the page only
   through textContent. */
"use strict";

(function () {
  var A = window.Announcer;
  var previewUrl = null;

  function $(id) { return document.getElementById(id); }

  /* The script as /staff/notices/reading and /preview take it (disabled fields too,
     so a read-only notice can be heard as well). */
  function payload() {
    var voice = $("voice");
    var repeat = document.querySelector('input[name="repeat"]:checked');
    return {
      text: $("text").value,
      voice: voice && voice.value ? voice.value : null,
      chime: $("chime").checked,
      repeat: repeat ? parseInt(repeat.value, 10) : 1
    };
  }

  async function showReading(button) {
    var box = $("reading-box");
    var error = $("check-error");
    button.disabled = true;
    A.show(error, "");
    try {
      var resp = await A.post("/staff/notices/reading", payload());
      if (resp.ok) {
        $("reading").textContent = (await resp.json()).reading;
        box.classList.remove("stale");
        box.hidden = false;
      } else {
        box.hidden = true;
        A.show(error, await A.errorText(resp));
      }
    } catch (e) {
      A.show(error, "サーバーにつながりません。もう一度押してください。");
    }
    button.disabled = false;
  }

  async function playPreview(button) {
    var audio = $("preview-audio");
    var error = $("check-error");
    var label = button.textContent;
    button.disabled = true;
    button.textContent = "試聴を準備中…";
    A.show(error, "");
    try {
      var resp = await A.post("/staff/notices/preview", payload());
      if (resp.ok) {
        if (previewUrl) { URL.revokeObjectURL(previewUrl); }
        previewUrl = URL.createObjectURL(await resp.blob());
        audio.src = previewUrl;
        audio.hidden = false;
        audio.play().catch(function () { /* autoplay refused: the controls remain */ });
      } else {
        A.show(error, await A.errorText(resp));
      }
    } catch (e) {
      A.show(error, "サーバーにつながりません。もう一度押してください。");
    }
    button.disabled = false;
    button.textContent = label;
  }

  function addTime() {
    var box = $("times");
    var inputs = box.querySelectorAll("input");
    var input = inputs[inputs.length - 1].cloneNode(false);
    input.value = "";
    input.setAttribute("aria-label", "時刻 " + (inputs.length + 1));
    box.appendChild(input);
    input.focus();
  }

  function setupForm() {
    var text = $("text");
    if ($("add-time")) { $("add-time").addEventListener("click", addTime); }
    text.addEventListener("input", function () { $("reading-box").classList.add("stale"); });
    $("reading-btn").addEventListener("click", function (e) { showReading(e.currentTarget); });
    $("preview-btn").addEventListener("click", function (e) { playPreview(e.currentTarget); });
    var form = $("notice-form");
    form.addEventListener("submit", function () {
      var save = $("save-btn");
      if (save) { setTimeout(function () { save.disabled = true; }, 0); }  // no double post
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
      });
    });
    if ($("notice-form")) { setupForm(); }
  });
})();
