/* HIIT PI live page: follows /api/live/events (Server-Sent Events) and updates the page through
 * the DOM. While a session runs the page is a workout screen (the root gets `running`): the
 * session's count, the interval countdown of a program, the phase, the last no-rep's reason and
 * one Stop button; beeps (Web Audio) and spoken cues (speechSynthesis) at interval changes. When
 * it ends, the result card links to the session's page. The charts are the session's: a viewer
 * who joins late gets the session so far (the feed's `history`), a new session clears them.
 * It also measures frame captured → number shown (window.hiitpiMetrics) for the browser tests,
 * and records every cue it gives (metrics.cues). */
(function () {
  "use strict";
  var es = null, cur = fresh();
  var broken = false;  // the feed failed since it last opened: the video is reloaded when it is back
  var pendingReps = {}, pendingSeq = {}, observers = [];
  var metrics = window.hiitpiMetrics = {
    rep: [], repsShown: [], frame: [], frameDom: [], toSent: [], toBrowser: [], messages: 0, errors: 0, cues: []
  };
  var WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"];
  var NOREP_SHOW_MS = 6000;  // a no-rep's reason stays this long (and goes at a rest or a stop)

  function fresh() {
    return { session: null, reps: null, programKey: null, lastT: null, total: 0, attempts: 0,
             running: null, norepAt: 0, beeped: null, banner: null };
  }

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
    var reps = graph("live-reps-graph"), times = graph("live-time-graph");
    if (!reps || !times) { return; }
    var ops = chartOps; chartOps = [];
    ops.forEach(function (fn) { try { fn(reps, times); } catch (e) { metrics.errors += 1; } });
  }
  // Numbers and banners change up to 30 times a second: they are written straight into the DOM
  // (no callback ever outputs these elements, so React never overwrites them).
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
  function soundOn(what) {
    var box = document.querySelector("#sound input[value='" + what + "']");
    return !!(box && box.checked);
  }

  // --- cues: beeps (Web Audio) and speech -----------------------------------------------------
  var audio = null;
  function audioCtx() {
    var AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) { return null; }
    if (!audio) { try { audio = new AC(); } catch (e) { return null; } }
    if (audio.state === "suspended") { audio.resume(); }
    return audio;
  }
  // a phone plays sound only after a tap: any tap on the page unlocks it (Start is one)
  document.addEventListener("pointerdown", function () { audioCtx(); }, { passive: true });
  function beep(freq, ms, what) {
    metrics.cues.push({ t: Date.now(), kind: "beep", what: what, freq: freq });
    if (!soundOn("beeps")) { return; }
    var ac = audioCtx();
    if (!ac) { return; }
    try {
      var osc = ac.createOscillator(), gain = ac.createGain(), t = ac.currentTime;
      osc.type = "sine"; osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(0.4, t + 0.01);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + ms / 1000);
      osc.connect(gain); gain.connect(ac.destination);
      osc.start(t); osc.stop(t + ms / 1000 + 0.02);
    } catch (e) { /* no audio output */ }
  }
  function say(text, what) {
    metrics.cues.push({ t: Date.now(), kind: "say", what: what, text: text });
    if (!soundOn("speak") || !("speechSynthesis" in window)) { return; }
    try {
      var u = new SpeechSynthesisUtterance(text);
      u.rate = 1.1;
      window.speechSynthesis.cancel();
      window.speechSynthesis.speak(u);
    } catch (e) { /* no voice on this device */ }
  }

  function flash(id, c) {
    var el = document.getElementById(id);
    if (!el) { return; }
    el.classList.remove("flash", "flash-bad");
    void el.offsetWidth;  // restart the transition
    el.classList.add(c);
    setTimeout(function () { el.classList.remove(c); }, 350);
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

  // --- the charts of the session ---------------------------------------------------------------
  function clearCharts() {
    chart(function (reps, times) {
      window.Plotly.restyle(reps, { x: [[], []], y: [[], []], text: [[], []] }, [0, 1]);
      window.Plotly.restyle(times, { x: [[], []], y: [[], []] }, [0, 1]);
    });
  }
  // one attempt: [seconds into the session, count after it, its duration, 1 counted | 0 no-rep, reason]
  function drawAttempts(items, replace) {
    var rx = [], ry = [], nx = [], ny = [], nt = [], tx = [], ty = [], bx = [], by = [];
    var start = replace ? 0 : cur.attempts - items.length;
    items.forEach(function (a, i) {
      var k = start + i + 1;
      if (a[3]) { rx.push(a[0]); ry.push(a[1]); tx.push(k); ty.push(a[2]); }
      else { nx.push(a[0]); ny.push(a[1]); nt.push(a[4] || "no-rep"); bx.push(k); by.push(a[2]); }
    });
    chart(function (reps, times) {
      if (replace) {
        window.Plotly.restyle(reps, { x: [rx, nx], y: [ry, ny], text: [[], nt] }, [0, 1]);
        window.Plotly.restyle(times, { x: [tx, bx], y: [ty, by] }, [0, 1]);
      } else {
        window.Plotly.extendTraces(reps, { x: [rx, nx], y: [ry, ny], text: [[], nt] }, [0, 1], 5000);
        window.Plotly.extendTraces(times, { x: [tx, bx], y: [ty, by] }, [0, 1], 5000);
      }
    });
  }

  // --- the page's two modes --------------------------------------------------------------------
  function mode(running, st, lab) {
    var root = document.getElementById("live-root");
    if (root) {
      var want = "live " + (running ? "running" : "idle") + (msgProgram ? " has-program" : "");
      if (root.className !== want) { root.className = want; }
    }
    // the result card: the session that ended (its numbers stay in the state until the next)
    if (!running && st.session && st.store_id) {
      var counting = st.counting === "attempts";
      cls("live-result", "card result");
      put("live-result-title", (st.player || "") + " · " + (lab.what || ""));
      put("live-result-reps", st.total_reps || "0");
      put("live-result-label", counting ? "attempts" : "reps");
      var sub = [fmtTime(st.elapsed)];
      if (st.avg_pace) { sub.push("avg " + Number(st.avg_pace).toFixed(1) + "/min"); }
      sub.push((st.total_no_reps || "0") + " no\u2011reps");  // a hyphen the line does not break at
      sub.push(counting ? (st.full_reps || "0") + " full reps" : (st.total_attempts || "0") + " attempts");
      put("live-result-sub", sub.join(" · "));
      var link = document.getElementById("live-result-link");
      var href = "/session/" + st.store_id;
      if (link && link.getAttribute("href") !== href) {
        link.setAttribute("href", href);
        link.textContent = "Open session " + st.store_id + " ›";
      }
    } else {
      cls("live-result", "card result hidden");
    }
  }
  var msgProgram = null;

  function handle(msg) {
    metrics.messages += 1;
    if (msg.degraded) {
      put("live-degraded", msg.degraded); cls("live-degraded", "banner banner-warn");
      return;
    }
    cls("live-degraded", "banner banner-warn hidden");
    var st = msg.state || {}, lab = msg.labels || {};
    var running = st.running === "1";
    var counting = st.counting === "attempts";
    var what = lab.what || (msg.program ? msg.program.title : "");
    var sid = st.session || "";
    var hist = msg.history && msg.history.session === sid ? msg.history.reps : null;
    msgProgram = msg.program && running ? msg.program : null;
    if (sid !== cur.session) {  // a new session clears both charts
      cur = fresh(); cur.session = sid;
      put("live-norep", ""); put("live-form", "");
      clearCharts();
    }
    if (hist) {
      // the session so far (from the store and the stream: a phone that opens late, or the time
      // Redis was away) replaces the charts, so they never show a flat line and a jump
      cur.attempts = hist.length;
      cur.lastT = hist.length ? hist[hist.length - 1][0] : null;
      cur.total = 0;
      hist.forEach(function (a) { if (a[3]) { cur.total = a[1]; } });
      drawAttempts(hist, true);
    }
    var total = st.total_reps || "0";
    if (msg.captured) {
      if (total !== cur.reps) { pendingReps[total] = msg.captured; }
      if (msg.seq !== undefined) { pendingSeq[String(msg.seq)] = msg.captured; }
    }
    if (total !== cur.reps) {
      put("live-reps", total);
      if (cur.reps !== null && Number(total) > Number(cur.reps) && running) {
        flash("live-reps-box", "flash");
        var n = Number(total);
        say(n <= 10 ? WORDS[n] : String(n), "count");
      }
      cur.reps = total;
    }
    put("live-reps-label", counting ? "ATTEMPTS" : "REPS");
    put("live-second-label", counting ? "FULL REPS" : "ATTEMPTS");
    put("live-second", counting ? (st.full_reps || "0") : (st.total_attempts || "0"));
    put("live-pace", running ? Number(st.pace || 0).toFixed(1) : "0.0");
    put("live-avg", st.avg_pace ? Number(st.avg_pace).toFixed(1) : "–");
    put("live-elapsed", fmtTime(st.elapsed));
    put("live-phase", running ? (lab.phase || "–") : "–");
    put("live-who", running ? (st.player + " · " + what) : "No session running");
    cur.banner = { running: running, sid: sid, player: st.player, what: what };
    training();
    program(msgProgram, st, lab);
    mode(running, st, lab);
    if (cur.running === true && !running) {  // it just ended: the reason of a no-rep goes too
      put("live-norep", "");
      beep(523, 600, "end"); say("Done. " + total + (counting ? " attempts." : " reps."), "end");
    }
    showAuto(st, running, lab);
    camera(st, running);
    cur.running = running;
    if (cur.norepAt && Date.now() - cur.norepAt > NOREP_SHOW_MS) { put("live-norep", ""); cur.norepAt = 0; }
    var score = msg.score !== undefined && msg.score !== null ? " · pose " + Number(msg.score).toFixed(2) : "";
    put("live-diag", "frame " + (msg.seq !== undefined ? msg.seq : "–") + " · " + (st.fps ? Number(st.fps).toFixed(0) : "–") + " fps" + score);

    var fresh_ = [];
    (msg.events || []).forEach(function (e) {
      if (e.session && sid && e.session !== sid) { return; }
      if ((e.kind === "rep" || e.kind === "no_rep") && e.similarity !== undefined) {
        // the rep against the workout's reference: 0-100 and the part that was furthest off
        put("live-form", "Form " + Math.round(e.similarity) + "/100" + (e.deviation ? " · " + e.deviation + " off most" : ""));
      }
      if ((e.kind === "rep" || e.kind === "no_rep") && e.t !== null && e.t !== undefined) {
        if (cur.lastT !== null && e.t <= cur.lastT) { return; }  // on the chart already (history)
        cur.lastT = e.t;
        cur.attempts += 1;
        if (e.kind === "rep") { cur.total += 1; }
        fresh_.push([e.t, cur.total, e.dur, e.kind === "rep" ? 1 : 0, e.reason]);
      }
      if (e.kind === "no_rep" || e.kind === "fault") {
        put("live-norep", (e.kind === "no_rep" ? "No rep: " : "") + e.reason);
        cur.norepAt = Date.now();
        flash("live-reps-box", "flash-bad");
        say(e.reason, "norep");
      }
    });
    // Charts are redrawn after the numbers have been painted, never in the same task: a Plotly
    // redraw takes tens of ms on a phone and would hold the new count back.
    if (fresh_.length) { drawAttempts(fresh_, false); }
  }

  // How the camera is set up, when it matters for the count (docs/accuracy.md): a picture the
  // referee reads as turned (a camera on its side) is counted as if upright; a picture darker than
  // the pose model's exposure can make up for (`dark`) loses joints; below SLOW_FPS analysed
  // frames a second (a Pi without a Coral analyses about 10) fast movements lose reps.
  var SLOW_FPS = 20;
  function camera(st, running) {
    var notes = [];
    var turn = Number(st.turn || 0);
    if (running && turn) {
      notes.push(turn === 180 ? "Picture upside down: counted as if upright."
        : "Camera on its side: counted as if upright.");
    }
    if (running && st.dark === "1" && Number(st.elapsed || 0) > 5) {
      notes.push("Too dark to count reliably: turn on a light.");
    }
    var fps = Number(st.fps || 0);
    if (running && fps > 0 && fps < SLOW_FPS && Number(st.elapsed || 0) > 5) {
      notes.push(Math.round(fps) + " frames a second: fast moves may lose reps (a Coral gives 30).");
    }
    put("live-camera", notes.join(" "));
    cls("live-camera", notes.length ? "camera-note" : "camera-note hidden");
  }

  // The interval of a program: what it is, the countdown (big), round and interval, what comes
  // next; a beep in each of the last 3 seconds and a long one with a spoken cue at each change.
  function program(p, st, lab) {
    if (!p) {
      cls("live-program", "program hidden");
      put("live-interval-reps", "–");
      return;
    }
    var rest = p.kind === "rest";
    cls("live-program", "program " + p.kind);
    // a free circuit's block of "any": the workout auto mode recognised in it, once it has
    var work = p.workout === "any" && lab.recognised ? lab.recognised : p.workout_title;
    put("live-program-phase", rest ? "Rest" : "Work · " + work);
    var left = Math.max(0, Math.ceil(p.remaining));
    put("live-countdown", String(left));
    put("live-round", "Round " + p.round + "/" + p.rounds + " · interval " + p.interval + "/" + p.intervals);
    put("live-next", "Next: " + p.next_title);
    put("live-interval-reps", rest ? "–" : (st.reps || "0"));
    var key = p.round + ":" + p.interval + ":" + p.kind;
    if (cur.programKey !== null && key !== cur.programKey) {
      if (rest) {
        put("live-norep", ""); cur.norepAt = 0;
        beep(440, 500, "rest");
        say("Rest. Next: " + p.next_title + ".", "rest");
      } else {
        beep(880, 500, "go");
        var cue = p.workout_title + ". Go!";
        if (p.round === p.rounds && p.interval === p.intervals) { cue = "Last one. " + cue; }
        else if (p.interval === Math.floor(p.intervals / 2) + 1) { cue = "Halfway. " + cue; }
        say(cue, "go");
      }
      cur.beeped = null;
    }
    cur.programKey = key;
    if (left >= 1 && left <= 3 && p.remaining <= 3.05 && cur.beeped !== key + ":" + left) {
      cur.beeped = key + ":" + left;
      beep(660, 120, "countdown");
    }
  }
  // "X is training": on every phone but the one that started it. Checked again on every tick: this
  // phone learns its session from Start's answer, which can come after the state that shows it.
  function training() {
    var b = cur.banner;
    if (b && b.running && b.sid && me().session !== b.sid) {
      put("live-training", (b.player || "Someone") + " is training (" + b.what + ")");
      cls("live-training", "banner banner-info");
    } else {
      cls("live-training", "banner banner-info hidden");
    }
  }
  // Auto mode: the recognised workout with its confidence, and the likeliest others as buttons
  var autoShown = "";
  function showAuto(st, running, lab) {
    if (!(running && st.auto === "1")) { cls("live-auto", "auto hidden"); return; }
    cls("live-auto", "auto");
    var what = st.recognised ? ((lab.recognised || st.recognised) + " · " + Math.round(100 * Number(st.confidence || 0)) + " %")
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
    cur = fresh();
    chartOps = [];
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
    if (onLive && cur.norepAt && Date.now() - cur.norepAt > NOREP_SHOW_MS) { put("live-norep", ""); cur.norepAt = 0; }
    if (onLive) { training(); }
  }, 250);
})();
