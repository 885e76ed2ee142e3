/* Notices (deleting asks first: app.js's dialog for data-confirm); in the form, add time fields, show the kana
   reading and play an audio preview of what will air. Values reach the page only
   through textContent. */
"use strict";

(function () {
  var A = window.Announcer;

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

  function showReading(button) { return A.showReading(button, "/staff/notices/reading", payload); }

  function playPreview(button) { return A.playPreview(button, "/staff/notices/preview", payload); }

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
    // forms with data-confirm (delete) ask in the page's own dialog (app.js)
    if ($("notice-form")) { setupForm(); }
  });
})();
