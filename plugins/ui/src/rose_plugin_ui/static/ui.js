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
  window.roseUi = { points: 0, drawn: 0, drawnInView: 0, zooms: 0, states: {}, barsDrawn: 0, barsHeld: 0, olderLoaded: 0,
                   firstPaint: null, updates: 0, campaigns: 0, t0: null };

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
  // points are columns: position in the campaign's curve (k), learner index, iteration,
  // labeled_count, value, time. A long curve comes thinned to the plot's width (the first,
  // lowest, highest and last point of each pixel column); zooming asks for the full resolution.
  var COLUMNS = ["k", "l", "i", "n", "v", "t"];
  function emptyPoints() { return { k: [], l: [], i: [], n: [], v: [], t: [] }; }
  function addPoints(into, more) { COLUMNS.forEach(function (c) { into[c] = into[c].concat(more[c]); }); }
  function mergePoints(a, b) {  // the union of two point sets (each in curve order), by position
    var out = emptyPoints(), i = 0, j = 0;
    while (i < a.k.length || j < b.k.length) {
      var from, at;
      if (j >= b.k.length || (i < a.k.length && a.k[i] <= b.k[j])) {
        from = a; at = i++;
        if (j < b.k.length && b.k[j] === a.k[at]) j++;
      } else { from = b; at = j++; }
      for (var c = 0; c < COLUMNS.length; c++) out[COLUMNS[c]].push(from[COLUMNS[c]][at]);
    }
    return out;
  }
  function plotWidth(id) { var el = $(id); return Math.max(200, Math.round((el && el.clientWidth) || window.innerWidth)); }

  function curveTraces(learners, keys, xColumns, points, direction, until, prefix) {
    var by = {};
    for (var j = 0; j < points.l.length; j++) {
      if (points.v[j] === null || (until !== null && points.t[j] > until)) continue;
      var key = keys[points.l[j]];
      var g = by[key] = by[key] || { x: [], v: [], labeled: (xColumns || {})[key] !== "i" };
      g.x.push(g.labeled ? points.n[j] : points.i[j]); g.v.push(points.v[j]);
    }
    var traces = [], best = null, drawn = 0;
    Object.keys(by).sort().forEach(function (key) {
      var g = by[key], name = learners[key] || key;
      drawn += g.v.length;
      for (var k = 0; k < g.v.length; k++) {
        if (best === null || (direction === "max" ? g.v[k] > best.y : g.v[k] < best.y)) best = { x: g.x[k], y: g.v[k], name: name };
      }
      traces.push({ type: "scatter", mode: g.v.length > 2000 ? "lines" : "lines+markers", name: (prefix || "") + name,
                    x: g.x, y: g.v, hovertemplate: "%{y}<extra>" + name + "</extra>", xaxis_title: g.labeled ? "labeled samples" : "iteration" });
    });
    return { traces: traces, best: best, drawn: drawn };
  }

  function lanes(bars, labels) {  // pack each learner's attempts into rows: the first row free at its submission
    var ends = {}, out = [];
    bars.forEach(function (bar) {
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

  function timelineTraces(bars, labels, t0, until, now, engine) {
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
                  (bar.attempt === null ? "1" : bar.attempt) + " \u00b7 engine " + (bar.engine || engine || "not recorded") +
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

  // the timeline draws the attempts of its window: the latest LIVE_BARS while it follows the
  // campaign, else those of the range the user zoomed or panned to (at most DRAW_BARS, the
  // latest); a window earlier than what the page holds asks the server for that time window
  var LIVE_BARS = 300, DRAW_BARS = 1500;
  function signature(b) { return [b.learner, b.iteration, b.task, b.key, b.attempt, b.end].join("|"); }
  function xRange(event) {  // a plotly_relayout event's x range: [low, high], "auto", or null
    if (event["xaxis.autorange"]) return "auto";
    if (event["xaxis.range[0]"] !== undefined) return [+event["xaxis.range[0]"], +event["xaxis.range[1]"]];
    if (event["xaxis.range"]) return [+event["xaxis.range"][0], +event["xaxis.range"][1]];
    return null;
  }

  function campaign() {
    var name = decodeURIComponent(location.pathname.split("/").pop());
    var api = "/api/campaign/" + encodeURIComponent(name);
    var state = { points: emptyPoints(), keys: [], bars: {}, signatures: {}, pointsCursor: 0, barsCursor: 0, info: null,
                  until: null, dirty: true, updates: 0, width: 0, sinceOverview: 0, zoom: null, window: null,
                  olderFrom: null, olderPending: false, fetched: [] };
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

    function shownPoints() { return state.zoom ? mergePoints(state.points, state.zoom.points) : state.points; }

    function windowBars(all, t0, now) {  // the attempts the timeline draws, and whether some were left out
      var picked;
      if (state.window === null) picked = all.slice(Math.max(0, all.length - LIVE_BARS));
      else {
        var low = state.window[0] + t0, high = state.window[1] + t0;
        picked = all.filter(function (b) { return b.submit <= high && (b.end === null ? now : b.end) >= low; });
      }
      return { bars: picked.slice(Math.max(0, picked.length - DRAW_BARS)), of: picked.length };
    }

    function older(t0) {  // the user looks before what the page follows: ask for that time window
      if (state.window === null || state.olderPending || state.olderFrom === null) return;
      var low = state.window[0] + t0, high = Math.min(state.window[1] + t0, state.olderFrom);
      if (low >= high || state.fetched.some(function (r) { return r[0] <= low && r[1] >= high; })) return;
      state.olderPending = true;
      getJson(api + "/tasks?start=" + low + "&end=" + high).then(function (r) {
        if (!r.ok) return;
        r.body.bars.forEach(function (b) {
          var sig = signature(b); if (state.signatures[sig]) return;
          b.id = "o" + sig; state.signatures[sig] = true; state.bars[b.id] = b; window.roseUi.olderLoaded += 1;
        });
        // all of [low, high] is held, or (more than one window's worth) its latest part: zoom in for the rest
        state.fetched.push([r.body.more && r.body.bars.length ? r.body.bars[0].end : low, high]);
        state.dirty = true;
      }).catch(function () {}).then(function () { state.olderPending = false; draw(); });
    }

    function draw() {
      var info = state.info; if (!info || !state.dirty) return;
      state.dirty = false;
      var range = span(), t0 = range[0], until = state.until;
      text($("when"), until === null ? "live" : "+" + (until - t0).toFixed(1) + " s (" + when(until) + ")");
      var points = shownPoints();
      var curve = curveTraces(info.learners, state.keys, info.learner_x, points, info.direction, until);
      var shapes = [], annotations = [];
      if (info.threshold !== null && info.threshold !== undefined) {
        shapes.push({ type: "line", xref: "paper", x0: 0, x1: 1, y0: info.threshold, y1: info.threshold, line: { dash: "dash", color: "#d64045" } });
        annotations.push({ xref: "paper", x: 1, y: info.threshold, text: "target " + fmt(info.threshold), showarrow: false, yanchor: "bottom", xanchor: "right" });
      }
      var traces = curve.traces.slice();
      if (curve.best) traces.push({ type: "scatter", mode: "markers", name: "best: " + fmt(curve.best.y) + " (" + curve.best.name + ")",
                                    x: [curve.best.x], y: [curve.best.y], marker: { size: 14, symbol: "star", color: "#f2b705", line: { color: "#333", width: 1 } } });
      var xTitle = curve.traces.length ? curve.traces[0].xaxis_title : "iteration";
      var first = window.roseUi.firstPaint === null && curve.drawn > 0;
      Plotly.react("curve", traces, { margin: { t: 20, r: 20 }, xaxis: { title: { text: xTitle } }, yaxis: { title: { text: info.metric || "metric" } },
                                      shapes: shapes, annotations: annotations, uirevision: "curve" }, CONFIG).then(function () {
        if (first) requestAnimationFrame(function () { setTimeout(function () {  // after the frame that shows the curve
          if (window.roseUi.firstPaint === null) { window.roseUi.firstPaint = performance.now(); performance.mark("rose-first-paint"); }
          drawTasks(info, t0, until);  // the first time, the rest waits for the curve to be on screen
        }, 0); });
      });
      window.roseUi.points = until === null ? info.points_cursor : curve.drawn;
      window.roseUi.drawn = curve.drawn;
      window.roseUi.drawnInView = state.zoom === null ? curve.drawn : curve.traces.reduce(function (n, t) {
        return n + t.x.filter(function (x) { return x >= state.zoom.low && x <= state.zoom.high; }).length;
      }, 0);
      $("curve-note").hidden = !(info.sampled || state.zoom);
      text($("curve-note"), state.zoom ? (state.zoom.exact ? "zoomed: every point of this range" : "zoomed: this range thinned to the plot's width; zoom further for every point") :
           "thinned to the plot's width: the first, lowest, highest and last point of each pixel column (the best point and the target are exact); zoom for every point");
      if (!first) drawTasks(info, t0, until);
      listen();
    }

    function drawTasks(info, t0, until) {  // the timeline and the in-flight counts
      var all = Object.keys(state.bars).map(function (k) { return state.bars[k]; }).sort(function (a, b) { return a.submit - b.submit; });
      var shown = windowBars(all, t0, info.now);
      var timeline = timelineTraces(shown.bars, info.learners, t0, until, info.now, info.engine);
      window.roseUi.states = timeline.counts; window.roseUi.barsDrawn = shown.bars.length; window.roseUi.barsHeld = all.length;
      window.roseUi.t0 = t0;  // the time the axes count from
      text($("tasks-note"), all.length ? (shown.of > shown.bars.length ? "the latest " + shown.bars.length + " of the " + shown.of + " task attempts in this window; zoom in for the others. " :
                                          state.window === null && all.length > shown.bars.length ? "the latest " + shown.bars.length + " task attempts: zoom out or pan left for earlier ones (double-click: back to the latest). " : "") +
           "Each bar runs from submission (grey: queued) through start to end, coloured by state" :
           "no task attempt recorded yet (a task is journaled when it ends, and while it runs once it has run for a second; a command also when it starts)");
      var allocShapes = (info.allocations || []).map(function (a) {
        return { type: "line", yref: "paper", y0: 0, y1: 1, x0: a.opened - t0, x1: a.opened - t0, line: { color: "#8e5cc9", dash: "dot" } };
      });
      Plotly.react("timeline", timeline.traces, { barmode: "overlay", margin: { t: 20, r: 20 }, xaxis: { title: { text: "seconds since start" } },
                                                  yaxis: { automargin: true }, shapes: allocShapes, uirevision: "timeline" }, CONFIG);
      var fl = info.inflight, x = [], y = [];
      if (fl) fl.values.forEach(function (v, i) { var t = fl.start + i * fl.width; if (until === null || t <= until) { x.push(t - t0); y.push(v); } });
      var partial = info.inflight_read < 1 ? " (" + Math.round(100 * info.inflight_read) + "% of the journal counted)" : "";
      Plotly.react("inflight", [{ type: "scatter", mode: "lines", line: { shape: "hv" }, x: x, y: y, name: "in flight", fill: "tozeroy" }],
                   { margin: { t: 20, r: 20 }, xaxis: { title: { text: "seconds since start" } }, yaxis: { title: { text: "tasks in flight (mean per " + (fl ? fl.width.toPrecision(2) : "-") + " s)" + partial } },
                     shapes: allocShapes, uirevision: "inflight" }, CONFIG);
      listen();
    }

    function listen() {  // zoom and pan (once each plot exists)
      if (!state.curveHeard && $("curve").on) {
        state.curveHeard = true;
        $("curve").on("plotly_relayout", function (event) {
          var r = xRange(event); if (r === null) return;
          if (r === "auto") { state.zoom = null; state.dirty = true; draw(); return; }
          getJson(api + "/curve?low=" + r[0] + "&high=" + r[1] + "&width=" + plotWidth("curve")).then(function (z) {
            if (!z.ok) return;
            state.zoom = z.body; state.dirty = true; window.roseUi.zooms += 1; draw();
          }).catch(function () {});
        });
      }
      if (!state.timelineHeard && $("timeline").on) {
        state.timelineHeard = true;
        $("timeline").on("plotly_relayout", function (event) {
          var r = xRange(event); if (r === null) return;
          state.window = r === "auto" ? null : r; state.dirty = true; draw(); older(span()[0]);
        });
      }
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

    function request() {
      // the first request skips the task records and asks for the curves thinned to the plot's
      // width (the page started it before the plotting library loaded: window.roseFirst); a fresh
      // thinned curve again once the points added since outnumber what the width shows
      var fresh = !state.info || state.sinceOverview > 4 * state.width;
      if (fresh) state.width = plotWidth("curve");
      var query = fresh ? "?points=0&width=" + state.width : "?points=" + state.pointsCursor;
      query += "&bars=" + state.barsCursor + (state.info ? "" : "&tasks=0");
      if (state.window === null && state.barsCursor > 0) query += "&latest=" + 2 * LIVE_BARS;  // following: no more is drawn
      if (!state.info && window.roseFirst) {
        var early = window.roseFirst; window.roseFirst = null;
        return early.then(function (r) { return r.json().then(function (body) { return { ok: r.ok, status: r.status, body: body, fresh: true }; }); });
      }
      return getJson(api + query).then(function (r) { r.fresh = fresh; return r; });
    }

    function poll() {
      request().then(function (r) {
        if (!r.ok) { $("gone").hidden = false; text($("gone"), r.body.error || ("error " + r.status)); return; }
        var d = r.body;
        if (d.mlflow) {
          var a = document.createElement("a"); a.href = d.mlflow.url; a.title = "start it with: " + d.mlflow.serve; text(a, "MLflow run");
          var box = $("mlflow"); box.innerHTML = ""; box.appendChild(a);
        }
        if (d.points.l.length || d.bars.length || !state.info || d.status !== state.info.status || d.gone !== state.info.gone ||
            (d.status === "unfinished" && !d.gone)) state.dirty = true;
        if (r.fresh) { state.points = d.points; state.sinceOverview = 0; }
        else { addPoints(state.points, d.points); state.sinceOverview += d.points.l.length; }
        state.keys = d.learner_keys;
        d.bars.forEach(function (b) {
          var old = state.bars[b.id]; if (old && old.end !== null) delete state.signatures[signature(old)];
          state.bars[b.id] = b; if (b.end !== null) state.signatures[signature(b)] = true;
        });
        var ids = Object.keys(state.bars).filter(function (k) { return k.charAt(0) !== "o"; });
        if (ids.length > d.max_bars) ids.sort(function (a, b) { return state.bars[a].seq - state.bars[b].seq; })
          .slice(0, ids.length - d.max_bars).forEach(function (k) { delete state.signatures[signature(state.bars[k])]; delete state.bars[k]; });
        if (state.info && state.barsCursor === 0 && d.bars.length) {  // the first task records: does the journal hold earlier ones?
          state.olderFrom = d.older ? d.bars.reduce(function (m, b) { return Math.min(m, b.end === null ? b.submit : b.end); }, Infinity) : null;
        }
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
    names.forEach(function (n) { data[n] = { points: emptyPoints(), cursor: 0, info: null, since: 0 }; });
    function draw() {
      var traces = [], total = 0;
      names.forEach(function (n) {
        var d = data[n]; if (!d.info) return;
        var c = curveTraces(d.info.learners, d.info.learner_keys, d.info.learner_x, d.points, d.info.direction, null, n + " \u00b7 ");
        total += d.info.points_cursor; Array.prototype.push.apply(traces, c.traces);
      });
      window.roseUi.points = total;
      Plotly.react("curve", traces, { margin: { t: 20, r: 20 }, xaxis: { title: { text: traces.length ? traces[0].xaxis_title : "iteration" } },
                                      legend: { orientation: "h" }, uirevision: "compare" }, CONFIG);
    }
    function poll() {
      var width = plotWidth("curve");
      Promise.all(names.map(function (n) {
        var d = data[n], fresh = !d.info || d.since > 4 * width;  // each curve thinned to the plot's width
        return getJson("/api/campaign/" + encodeURIComponent(n) + "?tasks=0&points=" + (fresh ? "0&width=" + width : d.cursor)).then(function (r) {
          if (!r.ok) { $("error").hidden = false; text($("error"), r.body.error); return; }
          if (fresh) { d.points = r.body.points; d.since = 0; } else { addPoints(d.points, r.body.points); d.since += r.body.points.l.length; }
          d.cursor = r.body.points_cursor; d.info = r.body;
        });
      })).then(draw).catch(function () {}).then(function () { later(poll); });
    }
    poll();
  }

  return { index: index, campaign: campaign, compare: compare };
})();
