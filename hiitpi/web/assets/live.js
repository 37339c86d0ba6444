/* HIIT PI live page: follows /api/live/events (Server-Sent Events) and updates the page through
 * the DOM — big numbers, program countdown, flash on rep, no-rep reason, charts drawn with Plotly
 * (the session so far from the feed's history, then grown point by point), optional spoken cues
 * (speechSynthesis). It also measures frame captured → number shown (window.hiitpiMetrics) for
 * the browser test. */
(function () {
  "use strict";
  var es = null, cur = { session: null, reps: null, noReps: null, programKey: null, lastRepT: null };
  var broken = false;  // the feed failed since it last opened: the video is reloaded when it is back
  var pendingReps = {}, pendingSeq = {}, observers = [], chartBuf = [], chartFlushed = 0;
  var metrics = window.hiitpiMetrics = { rep: [], repsShown: [], frame: [], frameDom: [], toSent: [], toBrowser: [], messages: 0, errors: 0 };
  var WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"];

  // The two live charts are drawn by Plotly directly (Plotly.restyle / extendTraces on the graph
  // the page already shows), not through Dash props: a chart operation waits until its graph is
  // drawn, runs after the numbers have been painted, and never replays.
  var chartOps = [];
  function graph(id) {
    var gd = document.querySelector("#" + id + " .js-plotly-plot");
    return gd && gd.data && window.Plotly ? gd : null;
  }
  function chart(fn) { chartOps.push(fn); later(flushCharts); }
  function flushCharts() {
    var reps = graph("live-reps-graph"), pose = graph("live-pose-graph");
    if (!reps || !pose) { return; }
    var ops = chartOps; chartOps = [];
    ops.forEach(function (fn) { try { fn(reps, pose); } catch (e) { metrics.errors += 1; } });
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
    var what = msg.program ? msg.program.title : (st.program || st.workout || (st.auto === "1" ? "auto mode" : ""));
    var sid = st.session || "";
    var hist = msg.history && msg.history.session === sid ? msg.history.reps : null;
    if (sid !== cur.session) {  // a new session clears both charts
      cur.session = sid; cur.reps = null; cur.noReps = null; cur.programKey = null; cur.lastRepT = null;
      put("live-norep", ""); put("live-form", ""); chartBuf = [];
      chart(function (reps, pose) {
        window.Plotly.restyle(reps, { x: [[]], y: [[]] }, [0]);
        window.Plotly.restyle(pose, { x: [[], []], y: [[], []] }, [0, 1]);
      });
    }
    if (hist) {
      // the session so far (from the store: a phone that opens late, or the time Redis was away)
      // replaces the reps chart, so it never shows a flat line and a jump
      cur.lastRepT = hist.length ? hist[hist.length - 1][0] : null;
      chart(function (reps) {
        window.Plotly.restyle(reps, { x: [hist.map(function (q) { return q[0]; })], y: [hist.map(function (q) { return q[1]; })] }, [0]);
      });
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
      var pw = p.workout === "any" ? (p.kind === "rest" ? "any workout" : (st.recognised || "any workout")) : p.workout;
      put("live-program-phase", p.kind === "rest" ? "Rest · next " + pw : pw);
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
    showAuto(st, running);
    put("live-diag", "frame " + (msg.seq !== undefined ? msg.seq : "–") + " · " + (st.fps ? Number(st.fps).toFixed(0) : "–") + " fps");

    var repX = [], repY = [];
    (msg.events || []).forEach(function (e) {
      if (e.session && sid && e.session !== sid) { return; }
      if ((e.kind === "rep" || e.kind === "no_rep") && e.similarity !== undefined) {
        // the rep against the workout's reference: 0-100 and the part that was furthest off
        put("live-form", "Form " + Math.round(e.similarity) + "/100" + (e.deviation ? " · " + e.deviation + " off most" : ""));
      }
      if (e.kind === "rep" && e.t !== null) {
        if (cur.lastRepT !== null && e.t <= cur.lastRepT) { return; }  // on the chart already (history)
        repX.push(e.t); repY.push(e.count); cur.lastRepT = e.t;
      }
      else if (e.kind === "no_rep" || e.kind === "fault") {
        put("live-norep", (e.kind === "no_rep" ? "No rep: " : "") + e.reason);
        flash("live-reps-box", "flash-bad");
        say(e.reason);
      } else if (e.kind === "session_stop") { say("saved"); }
    });
    // Charts are redrawn after the numbers have been painted, never in the same task: a Plotly
    // redraw takes tens of ms on a phone and would hold the new count back.
    if (repX.length) {
      chart(function (reps) { window.Plotly.extendTraces(reps, { x: [repX], y: [repY] }, [0], 3000); });
    }
    (msg.points || []).forEach(function (q) { chartBuf.push(q); });
    var now = Date.now();
    if (chartBuf.length && now - chartFlushed >= 1000) {
      var pts = chartBuf, xs = pts.map(function (q) { return q[0]; });
      chartBuf = []; chartFlushed = now;
      chart(function (reps, pose) {
        window.Plotly.extendTraces(pose, { x: [xs, xs], y: [pts.map(function (q) { return q[1]; }), pts.map(function (q) { return q[2]; })] }, [0, 1], 3000);
      });
    }
  }
  // Auto mode: the recognised workout with its confidence, and the likeliest others as buttons
  var autoShown = "";
  function showAuto(st, running) {
    if (!(running && st.auto === "1")) { cls("live-auto", "auto hidden"); return; }
    cls("live-auto", "auto");
    var what = st.recognised ? (st.recognised.replace(/_/g, " ") + " · " + Math.round(100 * Number(st.confidence || 0)) + " %")
                             : (st.phase === "rest" ? "Resting" : "Watching: start moving");
    put("live-auto-what", st.recognised ? "Recognised: " + what : what);
    var choices = st.choices || "";
    if (choices === autoShown) { return; }
    autoShown = choices;
    var want = {};
    choices.split(",").forEach(function (w) { if (w) { want[w] = true; } });
    document.querySelectorAll("#live-auto [id^='correct-']").forEach(function (el) {
      var w = el.id.slice("correct-".length);
      el.className = want[w] ? "auto-choice" : "hidden";
    });
  }
  function later(fn) {
    window.requestAnimationFrame(function () { setTimeout(fn, 0); });
  }

  function open() {
    if (es) { return; }
    cur = { session: null, reps: null, noReps: null, programKey: null, lastRepT: null };
    chartBuf = []; chartOps = [];
    var mine = es = new EventSource("/api/live/events");
    es.onopen = function () {
      if (!broken) { return; }
      broken = false;  // the server is back (restarted, or Redis back): so is the video
      var img = document.getElementById("live-video");
      if (img) { img.src = "/video?retry=" + Date.now(); }
    };
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
      broken = true;
      put("live-degraded", "Live view degraded: reconnecting to HIIT PI…"); cls("live-degraded", "banner banner-warn");
      if (mine.readyState === EventSource.CLOSED) {
        // refused (503: too many pages open, or the server restarting): the browser gives up; we do not
        setTimeout(function () { if (es === mine) { es = null; } }, 3000);
      }
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
    flushCharts();
    var onLive = !!document.getElementById("live-reps");
    if (onLive && !es) { open(); } else if (!onLive && es) { close(); }
  }, 250);
})();
