/* HIIT PI live page: follows /api/live/events (Server-Sent Events) and updates the page through
 * dash_clientside.set_props — big numbers, program countdown, flash on rep, no-rep reason, charts
 * grown with extendData, optional spoken cues (speechSynthesis). It also measures frame captured →
 * number shown (window.hiitpiMetrics) for the browser test. */
(function () {
  "use strict";
  var es = null, cur = { session: null, reps: null, noReps: null, programKey: null, lastEventT: null };
  var pendingReps = {}, pendingSeq = {}, observers = [], chartBuf = [], chartFlushed = 0;
  var metrics = window.hiitpiMetrics = { rep: [], repsShown: [], frame: [], frameDom: [], toSent: [], toBrowser: [], messages: 0, errors: 0 };
  var WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"];

  var last = {};  // what was last set per component: only changes reach React
  function setProps(id, props) {
    if (!document.getElementById(id)) { return; }
    var changed = {}, any = false, prev = last[id] || (last[id] = {});
    Object.keys(props).forEach(function (k) {
      var v = props[k];
      if (k === "extendData" || k === "data" || prev[k] !== v) { changed[k] = v; prev[k] = v; any = true; }
    });
    if (!any) { return; }
    try { window.dash_clientside.set_props(id, changed); } catch (e) { metrics.errors += 1; }
  }
  // Numbers and banners change up to 30 times a second: they are written straight into the DOM
  // (no callback ever outputs these elements, so React never overwrites them); only the charts
  // and the session id go through Dash (set_props), a few times a second at most.
  function put(id, text) {
    var el = document.getElementById(id);
    if (el && el.textContent !== text) { el.textContent = text; }
  }
  function cls(id, className) {
    var el = document.getElementById(id);
    if (el && el.className !== className) { el.className = className; }
  }
  function fmtTime(s) {
    s = Math.max(0, Math.round(Number(s) || 0));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }
  function me() {
    try { return JSON.parse(window.localStorage.getItem("me")) || {}; } catch (e) { return {}; }
  }
  function speakOn() {
    var box = document.querySelector("#speak input[type=checkbox]");
    return !!(box && box.checked);
  }
  function say(text) {
    if (!speakOn() || !("speechSynthesis" in window)) { return; }
    try {
      var u = new SpeechSynthesisUtterance(text);
      u.rate = 1.15;
      window.speechSynthesis.cancel();
      window.speechSynthesis.speak(u);
    } catch (e) { /* no voice on this device */ }
  }
  function flash(id, cls) {
    var el = document.getElementById(id);
    if (!el) { return; }
    el.classList.remove("flash", "flash-bad");
    void el.offsetWidth;  // restart the transition
    el.classList.add(cls);
    setTimeout(function () { el.classList.remove(cls); }, 350);
  }
  function observeText(id, onChange) {
    var el = document.getElementById(id);
    if (!el) { return; }
    var ob = new MutationObserver(function () { onChange(el.textContent, Date.now()); });
    ob.observe(el, { childList: true, characterData: true, subtree: true });
    observers.push(ob);
  }
  function record(list, value) {
    list.push(value);
    if (list.length > 20000) { list.splice(0, list.length - 20000); }
  }

  function handle(msg) {
    metrics.messages += 1;
    if (msg.degraded) {
      put("live-degraded", msg.degraded); cls("live-degraded", "banner banner-warn");
      return;
    }
    cls("live-degraded", "banner banner-warn hidden");
    var st = msg.state || {};
    var running = st.running === "1";
    var what = msg.program ? msg.program.title : (st.program || st.workout);
    var sid = st.session || "";
    if (sid !== cur.session) {
      cur.session = sid; cur.reps = null; cur.noReps = null; cur.programKey = null;
      setProps("live-session", { data: sid });
      put("live-norep", "");
      put("live-form", "");
    }
    var reps = st.reps || "0";
    if (msg.captured) {
      if (reps !== cur.reps) { pendingReps[reps] = msg.captured; }
      if (msg.seq !== undefined) { pendingSeq[String(msg.seq)] = msg.captured; }
    }
    if (reps !== cur.reps) {
      put("live-reps", reps);
      if (cur.reps !== null && Number(reps) > Number(cur.reps)) {
        flash("live-reps-box", "flash");
        var n = Number(reps);
        say(n <= 10 ? WORDS[n] : String(n));
      }
      cur.reps = reps;
    }
    var pace = st.pace ? Number(st.pace).toFixed(1) : "–";
    put("live-pace", pace);
    put("live-elapsed", fmtTime(st.elapsed));
    put("live-phase", st.phase || "–");
    put("live-who", running ? (st.player + " · " + what)
                            : (st.player ? "Last session: " + st.player + " · " + what : "No session running"));
    var mine = me().session;
    if (running && sid && mine !== sid) {
      put("live-training", (st.player || "Someone") + " is training (" + what + ")");
      cls("live-training", "banner banner-info");
    } else {
      cls("live-training", "banner banner-info hidden");
    }
    var p = msg.program;
    if (p && running) {
      cls("live-program", "program " + p.kind);
      put("live-program-phase", p.kind === "rest" ? "Rest · next " + p.workout : p.workout);
      put("live-countdown", String(Math.ceil(p.remaining)));
      put("live-round", "round " + p.round + "/" + p.rounds);
      var key = p.round + ":" + p.kind;
      if (cur.programKey !== null && key !== cur.programKey) {
        if (p.kind === "rest") { say("rest"); }
        else if (p.round === Math.ceil(p.rounds / 2) + (p.rounds % 2 ? 0 : 1)) { say("halfway. go"); }
        else { say("go"); }
      }
      cur.programKey = key;
    } else {
      cls("live-program", "program hidden");
    }
    put("live-diag", "frame " + (msg.seq !== undefined ? msg.seq : "–") + " · " + (st.fps ? Number(st.fps).toFixed(0) : "–") + " fps");

    var repX = [], repY = [];
    (msg.events || []).forEach(function (e) {
      if (e.session && sid && e.session !== sid) { return; }
      if ((e.kind === "rep" || e.kind === "no_rep") && e.similarity !== undefined) {
        // the rep against the workout's reference: 0-100 and the part that was furthest off
        put("live-form", "Form " + Math.round(e.similarity) + "/100" + (e.deviation ? " · " + e.deviation + " off most" : ""));
      }
      if (e.kind === "rep" && e.t !== null) { repX.push(e.t); repY.push(e.count); }
      else if (e.kind === "no_rep" || e.kind === "fault") {
        put("live-norep", (e.kind === "no_rep" ? "No rep: " : "") + e.reason);
        flash("live-reps-box", "flash-bad");
        say(e.reason);
      } else if (e.kind === "session_stop") { say("saved"); }
    });
    // Charts are redrawn after the numbers have been painted, never in the same task: a Plotly
    // redraw takes tens of ms on a phone and would hold the new count back.
    if (repX.length) {
      later(function () { setProps("live-reps-graph", { extendData: [{ x: [repX], y: [repY] }, [0], 3000] }); });
    }
    (msg.points || []).forEach(function (q) { chartBuf.push(q); });
    var now = Date.now();
    if (chartBuf.length && now - chartFlushed >= 1000) {
      var pts = chartBuf, xs = pts.map(function (q) { return q[0]; });
      chartBuf = []; chartFlushed = now;
      later(function () {
        setProps("live-pose-graph", { extendData: [{ x: [xs, xs], y: [pts.map(function (q) { return q[1]; }), pts.map(function (q) { return q[2]; })] }, [0, 1], 3000] });
      });
    }
  }
  function later(fn) {
    window.requestAnimationFrame(function () { setTimeout(fn, 0); });
  }

  function open() {
    if (es) { return; }
    cur = { session: null, reps: null, noReps: null, programKey: null };
    last = {}; chartBuf = [];
    es = new EventSource("/api/live/events");
    es.onmessage = function (ev) {
      try {
        var msg = JSON.parse(ev.data);
        if (msg.captured && msg.sent) {
          record(metrics.toSent, (msg.sent - msg.captured) * 1000);
          record(metrics.toBrowser, Date.now() - msg.sent * 1000);
        }
        handle(msg);
      } catch (e) { metrics.errors += 1; }
    };
    es.onerror = function () {
      put("live-degraded", "Live view degraded: reconnecting to HIIT PI…"); cls("live-degraded", "banner banner-warn");
    };
    var img = document.getElementById("live-video");
    if (img && !img.dataset.watched) {
      // no video (the engine is elsewhere, or restarting): say so, and try again every 5 s
      img.dataset.watched = "1";
      img.addEventListener("error", function () {
        img.classList.add("novideo");
        setTimeout(function () { if (document.body.contains(img)) { img.src = "/video?retry=" + Date.now(); } }, 5000);
      });
      img.addEventListener("load", function () { img.classList.remove("novideo"); });
    }
    observeText("live-reps", function (text, now) {
      record(metrics.repsShown, text);
      var cap = pendingReps[text];
      if (cap) {
        delete pendingReps[text];
        window.requestAnimationFrame(function () { record(metrics.rep, Date.now() - cap * 1000); });
      }
    });
    observeText("live-diag", function (text, now) {
      var m = /frame (\d+)/.exec(text);
      if (!m) { return; }
      var cap = pendingSeq[m[1]];
      pendingSeq = {};
      if (cap) {
        record(metrics.frameDom, now - cap * 1000);  // in the DOM
        window.requestAnimationFrame(function () { record(metrics.frame, Date.now() - cap * 1000); });  // at the next paint
      }
    });
  }
  function close() {
    if (es) { es.close(); es = null; }
    observers.forEach(function (o) { o.disconnect(); });
    observers = [];
    pendingReps = {}; pendingSeq = {};
  }
  setInterval(function () {
    var onLive = !!document.getElementById("live-reps");
    if (onLive && !es) { open(); } else if (!onLive && es) { close(); }
  }, 250);
})();
