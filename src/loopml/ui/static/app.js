// loopml UI: draws the charts of a page (metric histories, monitoring windows) with uPlot from each
// chart's JSON data link.
// Tables and links work without this script; it only adds the charts.
(function () {
  "use strict";
  var COLORS = ["#1f5fbf", "#c2410c", "#15803d", "#7e22ce", "#b91c1c", "#0e7490", "#a16207", "#be185d"];
  var charts = [];
  var view = { log: false, smoothing: 0 };

  // Exponential moving average, as TensorBoard's smoothing slider (0: raw values).
  function smooth(values, weight) {
    if (!weight) { return values; }
    var last = null;
    return values.map(function (v) {
      if (v === null || !isFinite(v)) { return v; }
      last = last === null ? v : last * weight + (1 - weight) * v;
      return last;
    });
  }

  function aligned(payload) {
    var log = view.log;
    var steps = new Set();
    payload.runs.forEach(function (r) { r.steps.forEach(function (s) { steps.add(s); }); });
    var xs = Array.from(steps).sort(function (a, b) { return a - b; });
    var index = new Map(xs.map(function (x, i) { return [x, i]; }));
    var data = [xs];
    payload.runs.forEach(function (r) {
      var ys = new Array(xs.length).fill(null);
      var values = smooth(r.values, view.smoothing);
      r.steps.forEach(function (s, i) {
        var v = values[i];
        ys[index.get(s)] = (log && !(v > 0)) ? null : v;
      });
      data.push(ys);
    });
    return data;
  }

  // A band's fill: its line's colour, mostly transparent.
  function faint(color) { return color + "26"; }

  function draw(el, payload) {
    var log = view.log;
    var x = payload.x || { label: "step", time: false };
    var series = [{ label: x.label }];
    var lines = 0;
    payload.runs.forEach(function (r) {
      // a band's bounds (monitoring charts) share the colour of the line before them, thin and dashed
      var color = COLORS[(r.bound ? lines - 1 : lines) % COLORS.length];
      if (!r.bound) { lines += 1; }
      series.push(r.bound
        ? { label: r.name, stroke: color, width: 0.5, dash: [4, 4], points: { show: false }, spanGaps: true }
        : { label: r.name || payload.key, stroke: color, width: 1.5, spanGaps: true });
    });
    var bands = (payload.bands || []).map(function (b) {
      return { series: [b.upper + 1, b.lower + 1], fill: faint(series[b.upper + 1].stroke) };
    });
    var width = Math.max(300, el.clientWidth || 600);
    var opts = {
      title: el.dataset.title, width: width, height: 260, series: series, bands: bands,
      scales: { x: { time: !!x.time }, y: { distr: log ? 3 : 1 } },
      axes: [{ label: x.label }, { label: payload.key }],
      legend: { show: payload.runs.length <= 20 }
    };
    if (x.time) {  // window starts are UTC instants: shown in UTC, as the tables show them
      opts.tzDate = function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); };
    }
    el.textContent = "";
    return new uPlot(opts, aligned(payload), el);
  }

  // A chart's data link; ``data-form`` names a form whose fields (the compared runs) are added, so
  // a page of many charts over the same runs names those runs once instead of in every link.
  function source(el) {
    var form = el.dataset.form ? document.getElementById(el.dataset.form) : null;
    var fields = form ? new URLSearchParams(new FormData(form)).toString() : "";
    if (!fields) { return el.dataset.src; }
    return el.dataset.src + (el.dataset.src.indexOf("?") < 0 ? "?" : "&") + fields;
  }

  function load(el) {
    fetch(source(el), { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status + " " + r.statusText); } return r.json(); })
      .then(function (payload) {
        var entry = { el: el, payload: payload, plot: draw(el, payload) };
        charts.push(entry);
        var dropped = payload.runs.some(function (r) { return r.downsampled; });
        if (dropped) {
          var note = document.createElement("p");
          note.className = "muted";
          note.textContent = "Downsampled: each bucket keeps its minimum and maximum.";
          el.parentNode.appendChild(note);
        }
      })
      .catch(function (err) { el.textContent = "Could not load the chart data: " + err.message; });
  }

  // Charts marked ``data-lazy`` (one per metric of a compare: many, each over many runs) load when
  // they come within a screen of the viewport; the others at once.
  function start() {
    var lazy = [];
    document.querySelectorAll(".plot[data-src]").forEach(function (el) {
      if (el.hasAttribute("data-lazy") && "IntersectionObserver" in window) { lazy.push(el); } else { load(el); }
    });
    if (!lazy.length) { return; }
    var watcher = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (entry.isIntersecting) { watcher.unobserve(entry.target); load(entry.target); }
      });
    }, { rootMargin: "100% 0px" });
    lazy.forEach(function (el) { watcher.observe(el); });
  }

  // Calls ``then`` once the page's first contentful paint is recorded (where the browser reports
  // paints; elsewhere after the first frame), so that text and tables show without waiting for the
  // chart requests, nor for drawing their answers.
  function afterFirstPaint(then) {
    var types = (window.PerformanceObserver && PerformanceObserver.supportedEntryTypes) || [];
    if (types.indexOf("paint") < 0) {
      requestAnimationFrame(function () { setTimeout(then, 0); });
      return;
    }
    var observer = new PerformanceObserver(function (list) {
      if (list.getEntriesByName("first-contentful-paint").length) { observer.disconnect(); then(); }
    });
    observer.observe({ type: "paint", buffered: true });
  }

  afterFirstPaint(start);
  function redraw() {
    charts.forEach(function (c) { c.plot.destroy(); c.plot = draw(c.el, c.payload); });
  }
  document.querySelectorAll("input.log-scale").forEach(function (box) {
    box.addEventListener("change", function () { view.log = box.checked; redraw(); });
  });
  document.querySelectorAll("input.smoothing").forEach(function (slider) {
    slider.addEventListener("input", function () { view.smoothing = parseFloat(slider.value) || 0; redraw(); });
  });
})();
