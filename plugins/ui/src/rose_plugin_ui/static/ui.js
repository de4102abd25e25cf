/* rose ui: the three pages (index, campaign, compare). Plots are drawn by plotly.js.
   The pages poll the server every POLL ms and ask only for what was added since their cursors. */
"use strict";
var RoseUi = (function () {
  var POLL = 1000;
  var COLOURS = { queued: "#b8bfcc", running: "#2f7ff0", done: "#2e9d57", failed: "#d64045",
                  cancelled: "#f08a24", replayed: "#8e5cc9" };
  var STATES = ["queued", "running", "done", "failed", "cancelled", "replayed"];
  var CONFIG = { responsive: true, displaylogo: false };
  // what the browser tests read: points drawn, tasks per state, first paint time
  window.roseUi = { points: 0, states: {}, firstPaint: null, updates: 0, campaigns: 0 };

  function $(id) { return document.getElementById(id); }
  function fmt(v) { return v === null || v === undefined ? "-" : (typeof v === "number" ? +v.toPrecision(4) + "" : String(v)); }
  function when(t) { return t ? new Date(t * 1000).toLocaleString() : "-"; }
  function text(el, value) { el.textContent = value; return el; }
  function cell(row, value) { var td = document.createElement("td"); text(td, value); row.appendChild(td); return td; }
  function getJson(url) {
    return fetch(url, { credentials: "same-origin" }).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, status: r.status, body: body }; });
    });
  }
  function later(fn) { setTimeout(fn, POLL); }
  function chain(allocations) {
    return (allocations || []).map(function (a) {
      return (a.scheduler || "job") + " " + a.job_id + (a.reason ? " (" + a.reason + ")" : a.ended ? "" : " (running)");
    }).join(" \u2192 ");
  }

  // -- index ----------------------------------------------------------------------------
  function index() {
    var ticked = {};
    $("compare").onclick = function () {
      var names = Object.keys(ticked).filter(function (n) { return ticked[n]; });
      location.href = "/compare?" + names.map(function (n) { return "c=" + encodeURIComponent(n); }).join("&");
    };
    function draw(data) {
      text($("root"), data.root);
      $("error").hidden = !data.error; text($("error"), data.error || "");
      var body = document.querySelector("#campaigns tbody");
      body.innerHTML = "";
      data.campaigns.slice().reverse().forEach(function (c) {
        var row = document.createElement("tr");
        var box = document.createElement("input"); box.type = "checkbox"; box.checked = !!ticked[c.name];
        box.onchange = function () { ticked[c.name] = box.checked; update(); };
        row.appendChild(document.createElement("td")).appendChild(box);
        var link = document.createElement("a"); link.href = "/campaign/" + encodeURIComponent(c.name); text(link, c.name);
        row.appendChild(document.createElement("td")).appendChild(link);
        cell(row, c.learner_type);
        var status = cell(row, ""); var badge = document.createElement("span");
        badge.className = "status " + c.status; text(badge, c.status); status.appendChild(badge);
        cell(row, c.learners); cell(row, c.iterations);
        cell(row, c.best_metric === null ? "-" : fmt(c.best_metric) + " " + (c.metric || ""));
        cell(row, when(c.started));
        cell(row, c.started && c.ended ? fmt(c.ended - c.started) + " s" : "-");
        cell(row, chain(c.allocations) || "-");
        body.appendChild(row);
      });
      $("empty").hidden = data.campaigns.length > 0;
      window.roseUi.campaigns = data.campaigns.length;
      update();
    }
    function update() {
      var n = Object.keys(ticked).filter(function (k) { return ticked[k]; }).length;
      $("compare").disabled = n < 2;
    }
    function poll() {
      getJson("/api/campaigns").then(function (r) { draw(r.body); }).catch(function () {}).then(function () { setTimeout(poll, 2 * POLL); });
    }
    poll();
  }

  // -- one campaign ---------------------------------------------------------------------
  function emptyPoints() { return { l: [], i: [], n: [], v: [], t: [] }; }
  function addPoints(into, more) { Object.keys(into).forEach(function (c) { into[c] = into[c].concat(more[c]); }); }

  // a long curve is drawn as its envelope: the first, lowest, highest and last point of each of
  // MAX_DRAWN / 4 runs of consecutive points (a screen has fewer pixels than that anyway)
  var MAX_DRAWN = 8000;
  function envelope(x, y) {
    if (y.length <= MAX_DRAWN) return { x: x, y: y };
    var size = Math.ceil(y.length / (MAX_DRAWN / 4)), ox = [], oy = [];
    for (var start = 0; start < y.length; start += size) {
      var stop = Math.min(start + size, y.length), lo = start, hi = start;
      for (var k = start; k < stop; k++) { if (y[k] < y[lo]) lo = k; if (y[k] > y[hi]) hi = k; }
      [start, Math.min(lo, hi), Math.max(lo, hi), stop - 1].forEach(function (k, n, all) {
        if (n === 0 || k !== all[n - 1]) { ox.push(x[k]); oy.push(y[k]); }
      });
    }
    return { x: ox, y: oy };
  }

  function curveTraces(learners, keys, points, direction, until, prefix) {
    var by = {};  // points are columns: learner index, iteration, labeled_count, value, time
    for (var j = 0; j < points.l.length; j++) {
      if (points.v[j] === null || (until !== null && points.t[j] > until)) continue;
      var key = keys[points.l[j]];
      var g = by[key] = by[key] || { i: [], n: [], v: [], labeled: true };
      g.i.push(points.i[j]); g.n.push(points.n[j]); g.v.push(points.v[j]);
      if (points.n[j] === null) g.labeled = false;
    }
    var traces = [], best = null, drawn = 0;
    Object.keys(by).sort().forEach(function (key) {
      var g = by[key], name = learners[key] || key;
      var x = g.labeled ? g.n : g.i;
      drawn += g.v.length;
      for (var k = 0; k < g.v.length; k++) {
        if (best === null || (direction === "max" ? g.v[k] > best.y : g.v[k] < best.y)) best = { x: x[k], y: g.v[k], name: name };
      }
      var shown = envelope(x, g.v);
      traces.push({ type: "scatter", mode: g.v.length > 2000 ? "lines" : "lines+markers", name: (prefix || "") + name,
                    x: shown.x, y: shown.y, hovertemplate: "%{y}<extra>" + name + "</extra>", xaxis_title: g.labeled ? "labeled samples" : "iteration" });
    });
    return { traces: traces, best: best, drawn: drawn };
  }

  function lanes(bars, labels) {  // pack each learner's attempts into rows: the first row free at its submission
    var ends = {}, out = [];
    bars.slice().sort(function (a, b) { return a.submit - b.submit; }).forEach(function (bar) {
      var rows = ends[bar.learner] = ends[bar.learner] || [];
      var row = 0;
      while (row < rows.length && rows[row] > bar.submit) row++;
      rows[row] = bar.end === null ? Infinity : bar.end;
      out.push([bar, (labels[bar.learner] || "learner " + bar.learner) + " \u00b7 slot " + row]);
    });
    return out;
  }

  function stateAt(bar, t) {
    if (t === null) return bar.state;
    if (bar.end !== null && bar.end <= t) return bar.state;
    if (bar.start !== null && bar.start <= t) return "running";
    return "queued";
  }

  function timelineTraces(bars, labels, t0, until, now) {
    var groups = {}, counts = {};
    STATES.forEach(function (s) { groups[s] = { y: [], base: [], x: [], text: [] }; counts[s] = 0; });
    lanes(bars, labels).forEach(function (pair) {
      var bar = pair[0], lane = pair[1];
      if (until !== null && bar.submit > until) return;
      var stop = bar.end === null ? now : bar.end;
      if (until !== null) stop = Math.min(stop, until);
      var state = stateAt(bar, until);
      counts[state] += 1;
      var label = bar.task + " \u00b7 learner " + bar.learner + " \u00b7 iteration " + bar.iteration + " \u00b7 attempt " +
                  (bar.attempt === null ? "1" : bar.attempt) + " \u00b7 engine " + (bar.engine || "not recorded") +
                  " \u00b7 " + state + (bar.error ? " \u00b7 " + String(bar.error).slice(0, 120) : "");
      var started = bar.start === null ? bar.submit : Math.min(Math.max(bar.start, bar.submit), stop);
      if (started > bar.submit) {  // submitted, waiting for a slot
        var q = groups.queued; q.y.push(lane); q.base.push(bar.submit - t0); q.x.push(started - bar.submit); q.text.push(label + " (queued)");
      }
      var g = groups[state === "queued" ? "queued" : state];
      g.y.push(lane); g.base.push(started - t0); g.x.push(Math.max(stop - started, 0.001)); g.text.push(label);
    });
    var traces = STATES.map(function (s) {
      var g = groups[s];
      return { type: "bar", orientation: "h", name: s, y: g.y, base: g.base, x: g.x, text: g.text, marker: { color: COLOURS[s], line: { color: "#ffffff", width: 1 } },
               hovertemplate: "%{text}<br>%{base:.2f} s + %{x:.2f} s<extra></extra>", textposition: "none" };
    });
    return { traces: traces, counts: counts };
  }

  function campaign() {
    var name = decodeURIComponent(location.pathname.split("/").pop());
    var state = { points: emptyPoints(), keys: [], bars: {}, pointsCursor: 0, barsCursor: 0, info: null, until: null, dirty: true, updates: 0 };
    text($("name"), name); document.title = "rose ui: " + name;
    $("replay").oninput = function () {
      var info = state.info; if (!info) return;
      var range = span();
      state.until = range[0] + (range[1] - range[0]) * $("replay").value / 1000;
      $("live").disabled = false; state.dirty = true; draw();
    };
    $("live").onclick = function () { state.until = null; $("replay").value = 1000; $("live").disabled = true; state.dirty = true; draw(); };

    function span() {
      var t0 = null, t1 = null;
      state.points.t.forEach(function (t) { if (t !== null) { if (t0 === null || t < t0) t0 = t; if (t1 === null || t > t1) t1 = t; } });
      Object.keys(state.bars).forEach(function (k) {
        var b = state.bars[k]; if (t0 === null || b.submit < t0) t0 = b.submit;
        var e = b.end === null ? state.info.now : b.end; if (t1 === null || e > t1) t1 = e;
      });
      (state.info.events || []).forEach(function (e) { if (t0 === null || e.time < t0) t0 = e.time; if (t1 === null || e.time > t1) t1 = e.time; });
      if (state.info.status === "unfinished" && !state.info.gone) t1 = Math.max(t1 || 0, state.info.now);
      return [t0 || 0, t1 || 1];
    }

    function draw() {
      var info = state.info; if (!info || !state.dirty) return;
      state.dirty = false;
      var range = span(), t0 = range[0], until = state.until;
      text($("when"), until === null ? "live" : "+" + (until - t0).toFixed(1) + " s (" + when(until) + ")");
      var curve = curveTraces(info.learners, state.keys, state.points, info.direction, until);
      var shapes = [], annotations = [];
      if (info.threshold !== null && info.threshold !== undefined) {
        shapes.push({ type: "line", xref: "paper", x0: 0, x1: 1, y0: info.threshold, y1: info.threshold, line: { dash: "dash", color: "#d64045" } });
        annotations.push({ xref: "paper", x: 1, y: info.threshold, text: "target " + fmt(info.threshold), showarrow: false, yanchor: "bottom", xanchor: "right" });
      }
      var traces = curve.traces.slice();
      if (curve.best) traces.push({ type: "scatter", mode: "markers", name: "best: " + fmt(curve.best.y) + " (" + curve.best.name + ")",
                                    x: [curve.best.x], y: [curve.best.y], marker: { size: 14, symbol: "star", color: "#f2b705", line: { color: "#333", width: 1 } } });
      var xTitle = curve.traces.length ? curve.traces[0].xaxis_title : "iteration";
      Plotly.react("curve", traces, { margin: { t: 20, r: 20 }, xaxis: { title: { text: xTitle } }, yaxis: { title: { text: info.metric || "metric" } },
                                      shapes: shapes, annotations: annotations, uirevision: "curve" }, CONFIG).then(function () {
        if (window.roseUi.firstPaint === null && curve.drawn > 0) window.roseUi.firstPaint = performance.now();  // since navigation
      });
      window.roseUi.points = curve.drawn;
      var bars = Object.keys(state.bars).map(function (k) { return state.bars[k]; });
      var timeline = timelineTraces(bars, info.learners, t0, until, info.now);
      window.roseUi.states = timeline.counts;
      text($("tasks-note"), bars.length ? (bars.length >= info.max_bars ? "the latest " + info.max_bars + " task attempts; " : "") +
           "each bar runs from submission (grey: queued) through start to end, coloured by state" :
           "no task attempt recorded yet (a task is journaled when it ends; commands also when they start)");
      var allocShapes = (info.allocations || []).map(function (a) {
        return { type: "line", yref: "paper", y0: 0, y1: 1, x0: a.opened - t0, x1: a.opened - t0, line: { color: "#8e5cc9", dash: "dot" } };
      });
      Plotly.react("timeline", timeline.traces, { barmode: "overlay", margin: { t: 20, r: 20 }, xaxis: { title: { text: "seconds since start" } },
                                                  yaxis: { automargin: true }, shapes: allocShapes, uirevision: "timeline" }, CONFIG);
      var fl = info.inflight, x = [], y = [];
      if (fl) fl.values.forEach(function (v, i) { var t = fl.start + i * fl.width; if (until === null || t <= until) { x.push(t - t0); y.push(v); } });
      Plotly.react("inflight", [{ type: "scatter", mode: "lines", line: { shape: "hv" }, x: x, y: y, name: "in flight", fill: "tozeroy" }],
                   { margin: { t: 20, r: 20 }, xaxis: { title: { text: "seconds since start" } }, yaxis: { title: { text: "tasks in flight (mean per " + (fl ? fl.width.toPrecision(2) : "-") + " s)" } },
                     shapes: allocShapes, uirevision: "inflight" }, CONFIG);
    }

    function header(info) {
      var badge = $("status"); badge.className = "status " + info.status; text(badge, info.status);
      text($("kind"), info.learner_type + " \u00b7 " + (info.metric || "no metric") +
           (info.threshold !== null ? " " + (info.operator || "") + " " + fmt(info.threshold) : ""));
      $("gone").hidden = !info.gone;
      $("skipped").hidden = !info.skipped;
      text($("skipped"), info.skipped + " damaged journal line(s) skipped (the server log names them)");
      text($("options"), JSON.stringify(info.options, null, 1));
      if (info.allocations && info.allocations.length) {
        var table = document.createElement("table");
        table.innerHTML = "<tr><th>job</th><th>scheduler</th><th>started</th><th>deadline</th><th>ended</th><th>stop</th></tr>";
        info.allocations.forEach(function (a) {
          var row = document.createElement("tr");
          [a.job_id, a.scheduler, when(a.started), a.deadline ? when(a.deadline) + " (" + (a.deadline_source || "?") + ")" : "-",
           a.ended ? when(a.ended) : "running", a.reason || "-"].forEach(function (v) { cell(row, v); });
          table.appendChild(row);
        });
        var box = $("allocations"); box.innerHTML = ""; box.appendChild(table);
      }
    }

    function poll() {
      // the first request skips the task records: the curves paint before a long journal is read
      var tasks = state.info ? "" : "&tasks=0";
      getJson("/api/campaign/" + encodeURIComponent(name) + "?points=" + state.pointsCursor + "&bars=" + state.barsCursor + tasks).then(function (r) {
        if (!r.ok) { $("gone").hidden = false; text($("gone"), r.body.error || ("error " + r.status)); return; }
        var d = r.body;
        if (d.mlflow) {
          var a = document.createElement("a"); a.href = d.mlflow.url; a.title = "start it with: " + d.mlflow.serve; text(a, "MLflow run");
          var box = $("mlflow"); box.innerHTML = ""; box.appendChild(a);
        }
        if (d.points.l.length || d.bars.length || !state.info || d.status !== state.info.status || d.gone !== state.info.gone ||
            (d.status === "unfinished" && !d.gone)) state.dirty = true;
        addPoints(state.points, d.points); state.keys = d.learner_keys;
        d.bars.forEach(function (b) { state.bars[b.id] = b; });
        var ids = Object.keys(state.bars);
        if (ids.length > d.max_bars) ids.sort(function (a, b) { return state.bars[a].seq - state.bars[b].seq; })
          .slice(0, ids.length - d.max_bars).forEach(function (k) { delete state.bars[k]; });
        state.pointsCursor = d.points_cursor; state.barsCursor = d.bars_cursor;
        state.info = d; state.updates = (state.updates || 0) + 1; window.roseUi.updates += 1;
        header(d); draw();
      }).catch(function (e) { text($("gone"), "the rose ui server does not answer (" + e + ")"); $("gone").hidden = false; })
        .then(function () { if (state.info && state.updates === 1) poll(); else later(poll); });
    }
    poll();
  }

  // -- several campaigns on one plot ------------------------------------------------------
  function compare() {
    var names = new URLSearchParams(location.search).getAll("c");
    text($("names"), names.join(", "));
    var data = {};
    names.forEach(function (n) { data[n] = { points: emptyPoints(), cursor: 0, info: null }; });
    function draw() {
      var traces = [], drawn = 0;
      names.forEach(function (n) {
        var d = data[n]; if (!d.info) return;
        var c = curveTraces(d.info.learners, d.info.learner_keys, d.points, d.info.direction, null, n + " \u00b7 ");
        drawn += c.drawn; Array.prototype.push.apply(traces, c.traces);
      });
      window.roseUi.points = drawn;
      Plotly.react("curve", traces, { margin: { t: 20, r: 20 }, xaxis: { title: { text: traces.length ? traces[0].xaxis_title : "iteration" } },
                                      legend: { orientation: "h" }, uirevision: "compare" }, CONFIG);
    }
    function poll() {
      Promise.all(names.map(function (n) {
        return getJson("/api/campaign/" + encodeURIComponent(n) + "?tasks=0&points=" + data[n].cursor).then(function (r) {
          if (!r.ok) { $("error").hidden = false; text($("error"), r.body.error); return; }
          addPoints(data[n].points, r.body.points); data[n].cursor = r.body.points_cursor; data[n].info = r.body;
        });
      })).then(draw).catch(function () {}).then(function () { later(poll); });
    }
    poll();
  }

  return { index: index, campaign: campaign, compare: compare };
})();
