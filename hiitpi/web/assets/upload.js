/* HIIT PI upload page: binds the [data-upload] form (hiitpi.web.uploadpage.upload_page) to the
 * routes of hiitpi.web.upload — pick or film a video (checked against the size and duration limits
 * here first), send it with XMLHttpRequest (its upload progress drives the bar), then follow the
 * analysis: the list of sent videos is polled, and when one is done (or refused) a banner says so,
 * with a browser notification when the phone allows them. No Dash callbacks.
 * Every request is same-origin (relative URLs, the pairing cookie): the browser's own Origin and
 * Sec-Fetch-Site headers are what the request guard (hiitpi.web.guards) checks; X-Upload-Name and
 * X-Requested-With are headers a cross-site form cannot send. The size is checked here before
 * sending: the guard refuses a body over [upload] max_mb before reading it.
 * window.hiitpiUpload counts what happened (for the browser test). */
(function () {
  "use strict";
  var stats = window.hiitpiUpload = { sent: 0, progress: [], done: [], failed: [], errors: 0, notified: 0 };
  var known = {};   // upload id -> last status seen, to notice when one finishes
  var polling = null;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }
  function $(id) { return document.getElementById(id); }
  function mb(bytes) { return (bytes / 1048576).toFixed(bytes < 10485760 ? 1 : 0) + " MB"; }
  function clock(s) {
    if (s === null || s === undefined || !isFinite(s)) { return ""; }
    s = Math.round(s);
    return Math.floor(s / 60) + ":" + ("0" + (s % 60)).slice(-2);
  }
  function say(text, bad) {
    var m = $("upload-msg");
    if (m) { m.textContent = text || ""; m.className = "msg" + (bad ? " msg-err" : text ? " msg-ok" : ""); }
  }
  function bar(pct, show) {
    var box = $("upload-progress"), b = $("upload-bar");
    if (!box || !b) { return; }
    box.className = "upload-progress" + (show ? "" : " hidden");
    b.style.width = Math.max(0, Math.min(100, pct)) + "%";
    box.setAttribute("aria-valuenow", String(Math.round(pct)));
  }
  function banner(text, link, bad) {
    var b = $("upload-banner");
    if (!b) { return; }
    b.textContent = text + " ";
    if (link) {
      var a = el("a", "banner-link", "Open the session ›");
      a.href = link;
      a.id = "upload-banner-link";
      b.appendChild(a);
    }
    b.className = "banner " + (bad ? "banner-warn" : "banner-info");
  }
  function notify(title, body) {
    try {
      if ("Notification" in window && Notification.permission === "granted") {
        new Notification(title, { body: body });
        stats.notified += 1;
      }
    } catch (e) { /* some phones only notify from a service worker: the banner is there */ }
  }

  // --- picking -------------------------------------------------------------------------------
  function picker(form, label, capture) {
    var wrap = el("label", "btn btn-secondary upload-pick", label);
    var input = el("input", "upload-file-input");
    input.type = "file";
    input.accept = "video/*";
    if (capture) { input.setAttribute("capture", "environment"); input.id = "upload-film"; }
    else { input.id = "upload-file"; }
    input.addEventListener("change", function () {
      if (input.files && input.files[0]) { picked(form, input.files[0]); }
    });
    wrap.appendChild(input);
    return wrap;
  }
  function picked(form, file) {
    var limits = JSON.parse(form.getAttribute("data-limits") || "{}");
    form._file = file;
    form._problem = null;
    var info = $("upload-file-info");
    info.textContent = file.name + " · " + mb(file.size);
    if (limits.maxBytes && file.size > limits.maxBytes) {
      form._problem = "This video is " + mb(file.size) + ": at most " + limits.maxMb + " MB can be sent. Trim it on the phone first.";
      say(form._problem, true);
      return;
    }
    say("");
    // The duration, when this browser can read the file (the server checks it in any case).
    var v = document.createElement("video");
    var url = URL.createObjectURL(file);
    v.preload = "metadata";
    v.onloadedmetadata = function () {
      URL.revokeObjectURL(url);
      if (form._file !== file) { return; }
      info.textContent = file.name + " · " + mb(file.size) + " · " + clock(v.duration);
      if (limits.maxMinutes && v.duration > limits.maxMinutes * 60) {
        form._problem = "This video lasts " + clock(v.duration) + ": at most " + limits.maxMinutes + " minutes are refereed. Trim it on the phone first.";
        say(form._problem, true);
      }
    };
    v.onerror = function () { URL.revokeObjectURL(url); };
    v.src = url;
  }

  // --- sending -------------------------------------------------------------------------------
  function send(form) {
    var file = form._file;
    var player = ($("upload-player") || {}).value || "";
    var workout = ($("upload-workout") || {}).value || "";
    var keepBox = document.querySelector("#upload-keep input[type=checkbox]");
    if (!file) { say("Pick or film a video first.", true); return; }
    if (form._problem) { say(form._problem, true); return; }
    if (!player.trim()) { say("Type who trained (a player's name).", true); return; }
    if (!workout) { say("Pick the workout the video shows.", true); return; }
    if ("Notification" in window && Notification.permission === "default") {
      try { Notification.requestPermission(); } catch (e) { /* old browsers */ }
    }
    var url = form.getAttribute("data-upload") + "?player=" + encodeURIComponent(player.trim()) +
      "&workout=" + encodeURIComponent(workout) + "&keep=" + (keepBox && keepBox.checked ? "1" : "0");
    var xhr = new XMLHttpRequest();
    var button = $("upload-send");
    xhr.open("POST", url);
    xhr.setRequestHeader("X-Upload-Name", encodeURIComponent(file.name));
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    xhr.upload.onprogress = function (e) {
      if (!e.lengthComputable) { return; }
      var pct = 100 * e.loaded / e.total;
      stats.progress.push(Math.round(pct));
      bar(pct, true);
      say("Sending… " + Math.floor(pct) + "% (" + mb(e.loaded) + " of " + mb(e.total) + ")");
    };
    xhr.onload = function () {
      button.disabled = false;
      var d = {};
      try { d = JSON.parse(xhr.responseText || "{}"); } catch (e) { d = {}; }
      if (xhr.status === 201 && d.upload) {
        stats.sent += 1;
        known[d.upload.id] = d.upload.status;
        bar(100, false);
        say("Sent: " + (d.upload.position ? d.upload.position + " video(s) ahead of it, then " : "") +
          "it is refereed in the background. You can close this page.");
        poll();
      } else {
        bar(0, false);
        say((d.error ? d.error.charAt(0).toUpperCase() + d.error.slice(1) : "The video was not accepted (" + xhr.status + ")") +
          (d.hint ? " — " + d.hint : ""), true);
      }
    };
    xhr.onerror = function () {
      button.disabled = false;
      bar(0, false);
      stats.errors += 1;
      say("The upload was cut off (the connection dropped): nothing was kept. Send it again.", true);
    };
    button.disabled = true;
    bar(0, true);
    say("Sending…");
    xhr.send(file);
  }

  // --- following -----------------------------------------------------------------------------
  function statusText(u) {
    if (u.status === "queued") { return u.position ? "waiting (" + u.position + " ahead)" : "waiting"; }
    if (u.status === "analysing") {
      return u.message ? u.message : "refereeing… " + Math.floor(100 * u.progress) + "%";
    }
    if (u.status === "done") { return u.reps + " reps, " + u.no_reps + " no-reps"; }
    if (u.status === "failed") { return "refused: " + (u.message || "see the log"); }
    return u.status;
  }
  function render(list) {
    var box = $("upload-jobs");
    if (!box) { return; }
    box.textContent = "";
    if (!list.length) { box.appendChild(el("div", "msg", "No video sent yet.")); return; }
    list.forEach(function (u) {
      var row = el("div", "upload-job upload-" + u.status);
      row.setAttribute("data-upload-id", u.id);
      var top = el("div", "upload-job-top");
      top.appendChild(el("span", "sc-title", u.file_name));
      top.appendChild(el("span", "sc-sub", u.player + " · " + (u.title || u.workout) + (u.duration_s ? " · " + clock(u.duration_s) : "")));
      row.appendChild(top);
      var st = el("div", "upload-job-status", statusText(u));
      row.appendChild(st);
      if (u.status === "analysing") {
        var p = el("div", "upload-progress");
        var b = el("div", "upload-bar");
        b.style.width = Math.round(100 * u.progress) + "%";
        p.appendChild(b);
        row.appendChild(p);
      }
      if (u.notes && u.notes.length && u.status !== "failed") {
        row.appendChild(el("div", "sc-sub", u.notes.join(" · ")));
      }
      if (u.status === "done" && u.session_id) {
        var a = el("a", "btn btn-secondary btn-small upload-open", "Open the session ›");
        a.href = "/session/" + u.session_id;
        row.appendChild(a);
      }
      if (u.status === "queued") {
        var c = el("button", "btn btn-secondary btn-small upload-cancel", "Cancel");
        c.type = "button";
        c.addEventListener("click", function () { cancel(u.id); });
        row.appendChild(c);
      }
      box.appendChild(row);
    });
  }
  function noticeChanges(list) {
    list.forEach(function (u) {
      var before = known[u.id];
      var active = before === "queued" || before === "analysing";
      if (active && u.status === "done") {
        stats.done.push(u.id);
        var text = u.file_name + " is refereed: " + u.reps + " reps, " + u.no_reps + " no-reps.";
        banner(text, "/session/" + u.session_id, false);
        notify("HIIT PI: workout refereed", text);
      } else if (active && u.status === "failed") {
        stats.failed.push(u.id);
        banner(u.file_name + " was not refereed: " + (u.message || "see the log"), null, true);
        notify("HIIT PI: video refused", u.message || "");
      }
      known[u.id] = u.status;
    });
  }
  function poll() {
    if (!$("upload-root")) { stop(); return; }
    fetch("/api/uploads", { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.json().then(function (d) { return [r.ok, d]; }); })
      .then(function (res) {
        if (!res[0]) { return; }
        noticeChanges(res[1].uploads);
        render(res[1].uploads);
      })
      .catch(function () { stats.errors += 1; });
  }
  function cancel(id) {
    fetch("/api/uploads/" + id + "/cancel", {
      method: "POST", credentials: "same-origin", headers: { "X-Requested-With": "hiitpi" }
    }).then(poll, poll);
  }
  function start() { if (!polling) { poll(); polling = setInterval(poll, 1500); } }
  function stop() { if (polling) { clearInterval(polling); polling = null; } }

  function bind(form) {
    if (form._bound) { return; }
    form._bound = true;
    var pickers = form.querySelector("#upload-pickers");
    pickers.appendChild(picker(form, "Film a video", true));
    pickers.appendChild(picker(form, "Pick a video", false));
    $("upload-send").addEventListener("click", function () { send(form); });
    // a first poll learns which uploads are running, so that their end is noticed
    fetch("/api/uploads", { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (d) {
      (d.uploads || []).forEach(function (u) { known[u.id] = u.status; });
      render(d.uploads || []);
      start();
    }, start);
  }
  function scan() {
    var form = document.querySelector("[data-upload]");
    if (form) { bind(form); }
    else if (!$("upload-root")) { stop(); }
  }
  new MutationObserver(scan).observe(document.documentElement, { childList: true, subtree: true });
  document.addEventListener("DOMContentLoaded", scan);
})();
