/* HIIT PI live page: follows /api/live/events (Server-Sent Events) and updates the page through
 * dash_clientside.set_props — big numbers, program countdown, flash on rep, no-rep reason, charts
 * grown with extendData, optional spoken cues (speechSynthesis). It also measures frame captured →
 * number shown (window.hiitpiMetrics) for the browser test. */
(function () {
  "use strict";
  var es = null, cur = { session: null, reps: null, noReps: null, programKey: null, lastEventT: null };
  var pendingReps = {}, pendingSeq = {}, observers = [];
  var metrics = window.hiitpiMetrics = { rep: [], frame: [], messages: 0, errors: 0 };
  var WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"];

  function setProps(id, props) {
    if (!document.getElementById(id)) { return; }
    try { window.dash_clientside.set_props(id, props); } catch (e) { metrics.errors += 1; }
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
      setProps("live-degraded", { children: msg.degraded, className: "banner banner-warn" });
      return;
    }
    setProps("live-degraded", { className: "banner banner-warn hidden" });
    var st = msg.state || {};
    var running = st.running === "1";
    var sid = st.session || "";
    if (sid !== cur.session) {
      cur.session = sid; cur.reps = null; cur.noReps = null; cur.programKey = null;
      setProps("live-session", { data: sid });
      setProps("live-norep", { children: "" });
    }
    var reps = st.reps || "0";
    if (msg.captured) {
      if (reps !== cur.reps) { pendingReps[reps] = msg.captured; }
      if (msg.seq !== undefined) { pendingSeq[String(msg.seq)] = msg.captured; }
    }
    if (reps !== cur.reps) {
      setProps("live-reps", { children: reps });
      if (cur.reps !== null && Number(reps) > Number(cur.reps)) {
        flash("live-reps-box", "flash");
        var n = Number(reps);
        say(n <= 10 ? WORDS[n] : String(n));
      }
      cur.reps = reps;
    }
    var pace = st.pace ? Number(st.pace).toFixed(1) : "–";
    setProps("live-pace", { children: pace });
    setProps("live-elapsed", { children: fmtTime(st.elapsed) });
    setProps("live-phase", { children: st.phase || "–" });
    setProps("live-who", { children: running ? (st.player + " · " + (st.program || st.workout)) : "No session running" });
    var mine = me().session;
    if (running && sid && mine !== sid) {
      setProps("live-training", { children: (st.player || "Someone") + " is training (" + (st.program || st.workout) + ")",
                                  className: "banner banner-info" });
    } else {
      setProps("live-training", { className: "banner banner-info hidden" });
    }
    var p = msg.program;
    if (p && running) {
      setProps("live-program", { className: "program " + p.kind });
      setProps("live-program-phase", { children: p.kind === "rest" ? "Rest · next " + p.workout : p.workout });
      setProps("live-countdown", { children: String(Math.ceil(p.remaining)) });
      setProps("live-round", { children: "round " + p.round + "/" + p.rounds });
      var key = p.round + ":" + p.kind;
      if (cur.programKey !== null && key !== cur.programKey) {
        if (p.kind === "rest") { say("rest"); }
        else if (p.round === Math.ceil(p.rounds / 2) + (p.rounds % 2 ? 0 : 1)) { say("halfway. go"); }
        else { say("go"); }
      }
      cur.programKey = key;
    } else {
      setProps("live-program", { className: "program hidden" });
    }
    setProps("live-diag", { children: "frame " + (msg.seq !== undefined ? msg.seq : "–") + " · " + (st.fps ? Number(st.fps).toFixed(0) : "–") + " fps" });

    var repX = [], repY = [];
    (msg.events || []).forEach(function (e) {
      if (e.session && sid && e.session !== sid) { return; }
      if (e.kind === "rep" && e.t !== null) { repX.push(e.t); repY.push(e.count); }
      else if (e.kind === "no_rep" || e.kind === "fault") {
        setProps("live-norep", { children: (e.kind === "no_rep" ? "No rep: " : "") + e.reason });
        flash("live-reps-box", "flash-bad");
        say(e.reason);
      } else if (e.kind === "session_stop") { say("saved"); }
    });
    if (repX.length) {
      setProps("live-reps-graph", { extendData: [{ x: [repX], y: [repY] }, [0], 3000] });
    }
    var pts = msg.points || [];
    if (pts.length) {
      var xs = pts.map(function (q) { return q[0]; });
      setProps("live-pose-graph", { extendData: [{ x: [xs, xs], y: [pts.map(function (q) { return q[1]; }), pts.map(function (q) { return q[2]; })] }, [0, 1], 3000] });
    }
  }

  function open() {
    if (es) { return; }
    cur = { session: null, reps: null, noReps: null, programKey: null };
    es = new EventSource("/api/live/events");
    es.onmessage = function (ev) {
      try { handle(JSON.parse(ev.data)); } catch (e) { metrics.errors += 1; }
    };
    es.onerror = function () {
      setProps("live-degraded", { children: "Live view degraded: reconnecting to HIIT PI…", className: "banner banner-warn" });
    };
    observeText("live-reps", function (text, now) {
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
      if (cap) { window.requestAnimationFrame(function () { record(metrics.frame, Date.now() - cap * 1000); }); }
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
