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

  /* -- in-page dialogs (.confirm-panel) ---------------------------------------------
     Open: everything else becomes inert, the given button gets focus, Tab and
     Shift+Tab stay inside. Esc (or the "no" button) closes it, and focus goes back to
     the button that opened it (or to a fallback when that button was redrawn). */
  var dialog = null;  // {panel, opener, fallback, inert: [elements]}
  var FOCUSABLE = "button:not([disabled]), a[href], input:not([disabled]):not([type=hidden])," +
    " select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])";

  function focusables(root) {
    return Array.from(root.querySelectorAll(FOCUSABLE)).filter(function (e) {
      return e.getClientRects().length > 0;
    });
  }

  function openDialog(panel, opener, first, fallback) {
    if (dialog) { closeDialog(false); }
    var inert = [];
    [document.body, document.querySelector("main")].forEach(function (parent) {
      Array.from(parent.children).forEach(function (child) {
        if (child !== panel && !child.contains(panel) && !child.inert && child.tagName !== "SCRIPT") {
          child.inert = true;
          inert.push(child);
        }
      });
    });
    dialog = {panel: panel, opener: opener, fallback: fallback, inert: inert};
    panel.hidden = false;
    (first || focusables(panel)[0]).focus();
  }

  function closeDialog(returnFocus) {
    if (!dialog) { return; }
    var d = dialog;
    dialog = null;
    d.panel.hidden = true;
    d.inert.forEach(function (e) { e.inert = false; });
    if (returnFocus === false) { return; }
    var target = d.opener && document.contains(d.opener) ? d.opener : d.fallback;
    if (target) { target.focus(); }
  }

  document.addEventListener("keydown", function (event) {
    if (!dialog) { return; }
    if (event.key === "Escape") {
      event.preventDefault();
      closeDialog();
      return;
    }
    if (event.key !== "Tab") { return; }
    var items = focusables(dialog.panel);
    if (!items.length) { return; }
    var first = items[0], last = items[items.length - 1], at = document.activeElement;
    if (event.shiftKey && (at === first || !dialog.panel.contains(at))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (at === last || !dialog.panel.contains(at))) {
      event.preventDefault();
      first.focus();
    }
  });

  /* Forms with data-confirm ask first, in the page's own dialog (not window.confirm):
     data-confirm is the question, data-confirm-hint, -yes and -no the rest. */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.dataset || !form.dataset.confirm) { return; }
    if (form.dataset.confirmed === "1") {
      delete form.dataset.confirmed;
      return;
    }
    event.preventDefault();
    var submitter = event.submitter || form.querySelector("button[type=submit], button");
    var panel = document.getElementById("confirm-dialog");
    document.getElementById("confirm-dialog-title").textContent = form.dataset.confirm;
    show(document.getElementById("confirm-dialog-hint"), form.dataset.confirmHint || "");
    var yes = document.getElementById("confirm-dialog-yes");
    var no = document.getElementById("confirm-dialog-no");
    yes.textContent = form.dataset.confirmYes || "はい";
    no.textContent = form.dataset.confirmNo || "やめる";
    yes.onclick = function () {
      closeDialog(false);
      form.dataset.confirmed = "1";
      if (submitter && submitter.form === form) { form.requestSubmit(submitter); } else { form.requestSubmit(); }
    };
    no.onclick = function () { closeDialog(); };
    openDialog(panel, submitter, no);
  });

  return {csrf: csrf, post: post, errorText: errorText, el: el, show: show,
          showReading: showReading, playPreview: playPreview,
          openDialog: openDialog, closeDialog: closeDialog};
})();

/* The skip link moves focus itself (a fragment alone leaves it on the link in some
   browsers): the next Tab then reaches the page's first control. */
document.addEventListener("click", function (event) {
  var link = event.target.closest && event.target.closest(".skip-link");
  if (!link) { return; }
  var main = document.getElementById("main");
  if (main) {
    event.preventDefault();
    main.focus();
  }
});

/* A confirm page's primary action ([data-autofocus]) has the focus, without scrolling
   the page away from what is being confirmed (autofocus would, on a phone). */
document.addEventListener("DOMContentLoaded", function () {
  var primary = document.querySelector("[data-autofocus]");
  if (primary) { primary.focus({preventScroll: true}); }
});

/* The phone header's menu button: opens and closes the menu under the header. */
document.addEventListener("DOMContentLoaded", function () {
  var button = document.getElementById("menu-btn");
  if (!button) { return; }
  button.addEventListener("click", function () {
    var open = button.closest(".top").classList.toggle("menu-open");
    button.setAttribute("aria-expanded", open ? "true" : "false");
  });
});
