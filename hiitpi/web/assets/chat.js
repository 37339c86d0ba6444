/* HIIT PI chat with the coach: binds every [data-chat] panel (hiitpi.web.chat.chat_panel) to its
 * routes — loads the conversation, asks (typed or a suggested question), follows the answer as
 * Server-Sent Events (start, token, discard, done) and shows which kind the answer is; Clear
 * deletes the conversation. No Dash callbacks: the panel works on any page that places it.
 * window.hiitpiChat counts what arrived (for the browser test). */
(function () {
  "use strict";
  var stats = window.hiitpiChat = { tokens: 0, lengths: [], done: 0, discards: 0, errors: 0 };

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }
  function q(panel, sel) { return panel.querySelector(sel); }
  function status(panel, text, bad) {
    var s = q(panel, ".chat-status");
    if (s) { s.textContent = text || ""; s.className = "msg chat-status" + (bad ? " msg-err" : ""); }
  }
  function scrollDown(panel) {
    var log = q(panel, ".chat-log");
    if (log) { log.scrollTop = log.scrollHeight; }
  }

  function bubble(panel, role, text, label, kind) {
    var log = q(panel, ".chat-log");
    var b = el("div", "chat-msg chat-" + role + (kind ? " chat-kind-" + kind : ""));
    if (role === "coach") {
      b.appendChild(el("div", "chat-label", label || "Coach"));
    }
    b.appendChild(el("div", "chat-text", text));
    log.appendChild(b);
    scrollDown(panel);
    return b;
  }
  function setKind(b, kind, label) {
    b.className = "chat-msg chat-coach chat-kind-" + (kind || "live");
    b.querySelector(".chat-label").textContent = label;
  }

  function load(panel) {
    var url = panel.getAttribute("data-chat");
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.json().then(function (d) { return [r.ok, d]; }); })
      .then(function (res) {
        if (!res[0]) { status(panel, res[1].error || "The conversation could not be loaded.", true); return; }
        var log = q(panel, ".chat-log");
        log.textContent = "";
        res[1].messages.forEach(function (m) {
          bubble(panel, m.role, m.text, m.label, m.kind);
        });
      })
      .catch(function () { status(panel, "The conversation could not be loaded.", true); });
  }

  function follow(panel, events, b) {
    var es = new EventSource(events);
    var text = b.querySelector(".chat-text");
    panel._stream = es;
    es.addEventListener("start", function (e) {
      var d = JSON.parse(e.data);
      text.textContent = "";
      if (d.source === "model") {
        setKind(b, "live", d.attempt > 1 ? "Coach · writing again…" : "Coach · writing…");
      }
    });
    es.addEventListener("token", function (e) {
      var d = JSON.parse(e.data);
      text.textContent += d.text;
      stats.tokens += 1;
      stats.lengths.push(text.textContent.length);
      scrollDown(panel);
    });
    es.addEventListener("discard", function (e) {
      stats.discards += 1;
      text.textContent = "";
      status(panel, "That draft had a number that is not in your data: checking again…");
    });
    es.addEventListener("done", function (e) {
      var d = JSON.parse(e.data);
      text.textContent = d.text;
      setKind(b, d.kind, d.label);
      stats.done += 1;
      status(panel, "");
    });
    es.addEventListener("failed", function (e) {
      stats.errors += 1;
      status(panel, "The coach failed to answer; try again.", true);
    });
    es.onerror = function () {
      // closed by the server when the answer is complete, or the connection dropped
      if (stats.done && text.textContent) { es.close(); panel._busy = false; return; }
      if (es.readyState === EventSource.CLOSED) { panel._busy = false; }
    };
    es.addEventListener("done", function () { es.close(); panel._busy = false; });
    es.addEventListener("failed", function () { es.close(); panel._busy = false; });
  }

  function ask(panel, question) {
    question = (question || "").trim();
    if (!question) { status(panel, "Type a question first.", true); return; }
    if (panel._busy) { status(panel, "Wait for the answer to finish.", true); return; }
    panel._busy = true;
    status(panel, "");
    bubble(panel, "user", question);
    var b = bubble(panel, "coach", "…", "Coach · waiting…", "live");
    fetch(panel.getAttribute("data-chat"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ question: question })
    })
      .then(function (r) { return r.json().then(function (d) { return [r.ok, d]; }); })
      .then(function (res) {
        if (!res[0]) {
          b.remove();
          panel._busy = false;
          status(panel, res[1].error || "The question could not be sent.", true);
          return;
        }
        follow(panel, res[1].events, b);
      })
      .catch(function () {
        b.remove();
        panel._busy = false;
        status(panel, "The question could not be sent: is the appliance reachable?", true);
      });
  }

  function clear(panel) {
    if (panel._busy) { return; }
    fetch(panel.getAttribute("data-chat"), { method: "DELETE", credentials: "same-origin" })
      .then(function (r) { return r.json().then(function (d) { return [r.ok, d]; }); })
      .then(function (res) {
        if (!res[0]) { status(panel, res[1].error || "Could not clear.", true); return; }
        q(panel, ".chat-log").textContent = "";
        status(panel, "Conversation cleared.");
      });
  }

  function send(panel) {
    var input = q(panel, ".chat-input");
    var v = input.value;
    input.value = "";
    ask(panel, v);
  }
  function onClick(e) {
    var panel = e.currentTarget, btn = e.target.closest("button");
    if (!btn || !panel.getAttribute("data-chat")) { return; }
    if (btn.classList.contains("chat-send")) { send(panel); }
    else if (btn.classList.contains("chat-suggest")) { ask(panel, btn.getAttribute("data-q")); }
    else if (btn.classList.contains("chat-clear")) { clear(panel); }
  }
  function onKey(e) {
    if (e.key === "Enter" && !e.shiftKey && e.target.classList.contains("chat-input")) {
      e.preventDefault();
      send(e.currentTarget);
    }
  }

  // Dash may reuse the panel's element for another conversation (another player picked):
  // listeners are delegated and attached once; a new data-chat reloads the log.
  function bind(panel) {
    var url = panel.getAttribute("data-chat");
    if (!panel._hooked) {
      panel._hooked = true;
      panel.addEventListener("click", onClick);
      panel.addEventListener("keydown", onKey);
    }
    if (panel._bound === url) { return; }
    panel._bound = url;
    if (panel._stream) { panel._stream.close(); }
    panel._busy = false;
    load(panel);
  }

  function scan() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-chat]"), bind);
  }
  new MutationObserver(scan).observe(document.documentElement, {
    childList: true, subtree: true, attributes: true, attributeFilter: ["data-chat"]
  });
  document.addEventListener("DOMContentLoaded", scan);
  scan();
})();
