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

  return {csrf: csrf, post: post, errorText: errorText, el: el, show: show};
})();
