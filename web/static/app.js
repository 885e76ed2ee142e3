/* Shared helpers for the staff pages. Data from the server is only ever put on the
   page with textContent, never as HTML. */
"use strict";

document.documentElement.classList.add("js");

window.Announcer = (function () {
  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json",
                "X-CSRF-Token": csrf()},
      body: JSON.stringify(body || {})
    });
  }

  async function errorText(resp) {
    if (resp.status === 401) {
      return "ログインが切れました。ページを読み込み直して、もう一度ログインしてください。";
    }
    try {
      var data = await resp.json();
      if (data && data.error) { return data.error; }
    } catch (e) { /* not JSON */ }
    return "エラーが起きました（" + resp.status + "）";
  }

  /* el("li", "empty", "text") or el("td", null, "text") */
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function show(node, text) {
    node.textContent = text;
    node.hidden = !text;
  }

  var OFFLINE = "サーバーにつながりません。もう一度押してください。";
  var previewUrl = null;

  /* The kana reading of a script: POST payload() to url and show the reading in
     #reading (in #reading-box, no longer stale), or the error in #check-error. */
  async function showReading(button, url, payload) {
    var box = document.getElementById("reading-box");
    var error = document.getElementById("check-error");
    button.disabled = true;
    show(error, "");
    try {
      var resp = await post(url, payload());
      if (resp.ok) {
        document.getElementById("reading").textContent = (await resp.json()).reading;
        box.classList.remove("stale");
        box.hidden = false;
      } else {
        box.hidden = true;
        show(error, await errorText(resp));
      }
    } catch (e) {
      show(error, OFFLINE);
    }
    button.disabled = false;
  }

  /* The audio preview of a script: POST payload() to url and play the WAV in
     #preview-audio, or show the error in #check-error. */
  async function playPreview(button, url, payload) {
    var audio = document.getElementById("preview-audio");
    var error = document.getElementById("check-error");
    var label = button.textContent;
    button.disabled = true;
    button.textContent = "試聴を準備中…";
    show(error, "");
    try {
      var resp = await post(url, payload());
      if (resp.ok) {
        if (previewUrl) { URL.revokeObjectURL(previewUrl); }
        previewUrl = URL.createObjectURL(await resp.blob());
        audio.src = previewUrl;
        audio.hidden = false;
        audio.play().catch(function () { /* autoplay refused: the controls remain */ });
      } else {
        show(error, await errorText(resp));
      }
    } catch (e) {
      show(error, OFFLINE);
    }
    button.disabled = false;
    button.textContent = label;
  }

  return {csrf: csrf, post: post, errorText: errorText, el: el, show: show,
          showReading: showReading, playPreview: playPreview};
})();

/* The phone header's menu button: opens and closes the menu under the header. */
document.addEventListener("DOMContentLoaded", function () {
  var button = document.getElementById("menu-btn");
  if (!button) { return; }
  button.addEventListener("click", function () {
    var open = button.closest(".top").classList.toggle("menu-open");
    button.setAttribute("aria-expanded", open ? "true" : "false");
  });
});
