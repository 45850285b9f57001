/*
 * Cache dashboard: draws the charts and keeps the overview live by polling its JSON endpoint.
 * No inline JavaScript anywhere: data arrives through json_script elements and data-* attributes,
 * so the pages work under a strict Content-Security-Policy. No build step; plain ES2017.
 */
(function () {
  "use strict";

  var DASH = "\u2014";
  // Numbers and times in the page's language (the admin's <html lang>), as the server renders them.
  var LANG = document.documentElement.lang || undefined;

  function number(v, digits) {
    return Number(v).toLocaleString(LANG, { minimumFractionDigits: digits, maximumFractionDigits: digits, useGrouping: false });
  }

  function readJSON(id) {
    var el = document.getElementById(id);
    if (!el) { return null; }
    try { return JSON.parse(el.textContent); } catch (e) { return null; }
  }

  function cssVar(el, name, fallback) {
    var value = getComputedStyle(el).getPropertyValue(name).trim();
    return value || fallback;
  }

  function pick(obj, path) {
    return path.split(".").reduce(function (o, k) { return o == null ? undefined : o[k]; }, obj);
  }

  var formats = {
    int: function (v) { return v == null ? DASH : number(v, 0); },
    percent: function (v) { return v == null ? DASH : number(Number(v) * 100, 1) + " %"; },
    text: function (v) { return v == null ? "" : String(v); }
  };

  function format(kind, value) { return (formats[kind] || formats.text)(value); }

  // Every time on the page is in the server's time zone (the tables are rendered there), not the
  // browser's: the overview says which (data-time-zone), and the chart and "Updated" follow it.
  var TIME_ZONE;
  function timeOptions(extra) {
    var options = Object.assign({}, extra);
    if (TIME_ZONE) { options.timeZone = TIME_ZONE; }
    return options;
  }
  function useTimeZone(name) {
    try {
      new Date().toLocaleTimeString(LANG, { timeZone: name });
      TIME_ZONE = name;
    } catch (e) { TIME_ZONE = undefined; }  // a zone the browser does not know: its own
  }
  function timeLabel(epochSeconds, withDay) {
    var date = new Date(epochSeconds * 1000);
    var time = date.toLocaleTimeString(LANG, timeOptions({ hour: "2-digit", minute: "2-digit" }));
    if (!withDay) { return time; }
    return date.toLocaleDateString(LANG, timeOptions({ weekday: "short", day: "numeric" })) + " " + time;
  }
  // A chart longer than a day names the day of each point, not only its time.
  function labelsOf(timestamps, resolution) {
    var withDay = timestamps.length * (resolution || 60) > 86400;
    return timestamps.map(function (t) { return timeLabel(t, withDay); });
  }

  // Sizes in the units the server's tables use (Django's filesizeformat: 1 KB = 1024 bytes).
  var SIZE_UNITS = ["B", "KB", "MB", "GB", "TB"];
  function sizeUnit(maximum) {
    var i = 0;
    while (maximum >= 1024 * Math.pow(1024, i) && i < SIZE_UNITS.length - 1) { i += 1; }
    return i;
  }
  function bytes(v) {
    if (v == null) { return DASH; }
    var i = sizeUnit(Math.abs(Number(v)));
    return number(Number(v) / Math.pow(1024, i), i ? 1 : 0) + " " + SIZE_UNITS[i];
  }

  // A point with no neighbour would draw nothing (lines only): give it a dot.
  function loneDot(ctx) {
    var data = ctx.dataset.data, i = ctx.dataIndex;
    return data[i] != null && data[i - 1] == null && data[i + 1] == null ? 3 : 0;
  }
  function clock(date) { return date.toLocaleTimeString(LANG, timeOptions()); }

  // Charts are coloured from CSS variables; re-read them when the admin's theme changes.
  var themed = [];
  function onThemeChange(fn) { themed.push(fn); }
  function watchTheme() {
    var rerun = function () { themed.forEach(function (fn) { fn(); }); };
    new MutationObserver(rerun).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
    if (window.matchMedia) {
      var mq = window.matchMedia("(prefers-color-scheme: dark)");
      if (mq.addEventListener) { mq.addEventListener("change", rerun); }
    }
  }

  function axisColors(root) {
    return { text: cssVar(root, "--cd-text", "#666"), grid: cssVar(root, "--cd-grid", "#e8e8e8") };
  }

  // Colours a line chart from the CSS variables (re-run when the theme changes): dataset i in
  // palette[i], every axis's ticks and title in the text colour, the grid of all but ``right``
  // (the right-hand axis, which draws none on the chart area).
  function paintLines(chart, root, palette, right) {
    var c = axisColors(root);
    chart.data.datasets.forEach(function (ds, i) { ds.borderColor = palette[i]; ds.backgroundColor = palette[i]; });
    Object.keys(chart.options.scales).forEach(function (axis) {
      var scale = chart.options.scales[axis];
      scale.ticks.color = c.text;
      scale.title.color = c.text;
      if (axis !== right) { scale.grid.color = c.grid; }
    });
    chart.options.plugins.legend.labels.color = c.text;
    chart.update("none");
  }

  // What the charts over time share: drawn at once, the box's size, the tooltip of every series
  // at the hovered time, a time axis along the bottom (its title set by timeTitle) and a legend;
  // ``scales`` and ``plugins`` add the chart's own. ``stacked``: the bars of a bucket stack.
  function overTime(colors, scales, plugins, stacked) {
    var x = { stacked: !!stacked, ticks: { color: colors.text, maxTicksLimit: 8, autoSkip: true },
              grid: { color: colors.grid }, title: { display: true, text: "", color: colors.text } };
    return {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: "index", intersect: false },
      scales: Object.assign({ x: x }, scales),
      plugins: Object.assign({ legend: { labels: { color: colors.text, boxWidth: 12 } } }, plugins || {})
    };
  }

  function timeTitle(chart, strings) {
    chart.options.scales.x.title.text = TIME_ZONE ? strings.time_in.replace("%(zone)s", TIME_ZONE) : "";
  }

  // The last point of a series is the bucket still being counted: its segment is dashed.
  function partialDash(ctx) {
    return ctx.p1DataIndex === ctx.chart.data.labels.length - 1 ? [4, 4] : undefined;
  }

  function lineChart(canvas, root, data, strings) {
    if (!window.Chart || !canvas) { return null; }
    var colors = axisColors(root);
    var line = function (label, axis) {
      return { label: label, data: [], borderWidth: 2, pointRadius: loneDot, tension: 0.2, yAxisID: axis,
               segment: { borderDash: partialDash }, spanGaps: true };
    };
    var chart = new window.Chart(canvas, {
      type: "line",
      data: { labels: [], datasets: [line(strings.hits, "y"), line(strings.misses, "y"), line(strings.hit_ratio, "ratio")] },
      options: overTime(colors, {
        y: { beginAtZero: true, ticks: { color: colors.text, precision: 0 }, grid: { color: colors.grid },
             title: { display: true, text: strings.per_minute, color: colors.text } },
        ratio: { position: "right", min: 0, max: 100, grid: { drawOnChartArea: false },
                 ticks: { color: colors.text, callback: function (v) { return v + " %"; } },
                 title: { display: true, text: strings.hit_ratio_axis, color: colors.text } }
      })
    });
    function paint() {
      paintLines(chart, root, [cssVar(root, "--cd-hits", "#417690"), cssVar(root, "--cd-misses", "#ba2121"),
                               cssVar(root, "--cd-ratio", "#5b8a3a")], "ratio");
    }
    chart.cdSetData = function (stats) {
      var series = (stats && stats.series) || {};
      var hits = series.hits || [], misses = series.misses || [];
      chart.data.labels = labelsOf(series.timestamps || [], stats && stats.resolution);
      chart.data.datasets[0].data = hits;
      chart.data.datasets[1].data = misses;
      // The hit ratio of each bucket, in %; no point where there was no traffic.
      chart.data.datasets[2].data = hits.map(function (h, i) {
        var total = h + (misses[i] || 0);
        return total ? Math.round(1000 * h / total) / 10 : null;
      });
      var perHour = stats && stats.resolution >= 3600;
      chart.options.scales.y.title.text = perHour ? strings.per_hour : strings.per_minute;
      timeTitle(chart, strings);
      chart.update("none");
    };
    onThemeChange(paint);
    paint();
    chart.cdSetData(data.stats);
    return chart;
  }

  // The servers' chart: memory (left axis) and operations per second (right), from the samples
  // the background sampler takes once a minute; data.server_history on the page and every poll.
  function serverChart(canvas, root, history, strings) {
    if (!window.Chart || !canvas) { return null; }
    var colors = axisColors(root);
    var line = function (label, axis) {
      return { label: label, data: [], borderWidth: 2, pointRadius: loneDot, tension: 0.2, yAxisID: axis,
               segment: { borderDash: partialDash }, spanGaps: true };
    };
    // Memory is drawn in one unit for the whole chart (the largest value's), so the axis has round steps.
    var unit = 0;
    var chart = new window.Chart(canvas, {
      type: "line",
      data: { labels: [], datasets: [line(strings.memory, "memory"), line(strings.ops, "ops")] },
      options: overTime(colors, {
        memory: { position: "left", beginAtZero: true, grid: { color: colors.grid },
                  ticks: { color: colors.text, callback: function (v) { return number(v, v % 1 ? 1 : 0) + " " + SIZE_UNITS[unit]; } },
                  title: { display: true, text: strings.memory, color: colors.text } },
        ops: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false },
               ticks: { color: colors.text },
               title: { display: true, text: strings.ops, color: colors.text } }
      }, {
        tooltip: { callbacks: { label: function (item) {
          var value = item.dataset.yAxisID === "memory" ? bytes(item.raw * Math.pow(1024, unit)) : number(item.raw, 1);
          return item.dataset.label + ": " + value;
        } } }
      })
    });
    function paint() {
      paintLines(chart, root, [cssVar(root, "--cd-c5", "#8e6cc0"), cssVar(root, "--cd-c6", "#3f9b6b")], "ops");
    }
    chart.cdSetData = function (found) {
      found = found || {};
      chart.data.labels = labelsOf(found.timestamps || [], found.resolution);
      var memory = found.memory || [];
      unit = sizeUnit(Math.max.apply(null, [0].concat(memory.filter(function (v) { return v != null; }))));
      chart.data.datasets[0].data = memory.map(function (v) { return v == null ? null : v / Math.pow(1024, unit); });
      chart.data.datasets[1].data = found.ops || [];
      timeTitle(chart, strings);
      chart.update("none");
    };
    onThemeChange(paint);
    paint();
    chart.cdSetData(history);
    return chart;
  }

  // Invalidations by source: one stacked bar per bucket, a part per source (the busiest each on
  // its own, then the others added up, then code that named no source); data.stats.source_chart.
  // A source keeps its colour across polls, whatever the order of the day.
  function sourcesChart(canvas, root, stats, strings) {
    if (!window.Chart || !canvas) { return null; }
    var colors = axisColors(root);
    var slots = new Map();
    var keyOf = function (line) { return line.kind + "\u0000" + line.source; };
    var labelOf = function (line) {
      if (line.kind === "admin") { return strings.source_admin; }
      if (line.kind === "command") { return strings.source_command; }
      if (line.kind === "rule") { return strings.source_rule.replace("%(name)s", line.source.slice(5)); }
      if (line.kind === "other") { return strings.source_other; }
      return line.source || strings.source_code;
    };
    var chart = new window.Chart(canvas, {
      type: "bar",
      data: { labels: [], datasets: [] },
      options: overTime(colors, {
        y: { stacked: true, beginAtZero: true, ticks: { color: colors.text, precision: 0 }, grid: { color: colors.grid },
             title: { display: true, text: strings.invalidated_per_minute, color: colors.text } }
      }, {
        tooltip: { filter: function (item) { return item.raw > 0; } }  // only the sources of that minute
      }, true)
    });
    var lines = [];
    function paint() {
      var palette = [];
      for (var i = 1; i <= 8; i += 1) { palette.push(cssVar(root, "--cd-c" + i, "#888")); }
      lines.forEach(function (line, i) {
        var key = keyOf(line);
        if (!slots.has(key)) { slots.set(key, slots.size); }
        var colour = line.kind === "code" && !line.source ? palette[7] : palette[slots.get(key) % 7];
        chart.data.datasets[i].backgroundColor = colour;
        chart.data.datasets[i].borderColor = colour;
      });
      paintLines(chart, root, chart.data.datasets.map(function (ds) { return ds.backgroundColor; }), null);
    }
    chart.cdSetData = function (found) {
      found = found || {};
      var source = found.source_chart || {};
      lines = source.lines || [];
      var series = found.series || {};
      chart.data.labels = labelsOf(series.timestamps || [], found.resolution);
      chart.data.datasets = lines.map(function (line) {
        return { label: labelOf(line), data: line.data, borderWidth: 0, barPercentage: 1, categoryPercentage: 0.9 };
      });
      var perHour = found.resolution >= 3600;
      chart.options.scales.y.title.text = perHour ? strings.invalidated_per_hour : strings.invalidated_per_minute;
      timeTitle(chart, strings);
      paint();
    };
    onThemeChange(paint);
    chart.cdSetData(stats);
    return chart;
  }

  function doughnutChart(canvas, root, breakdown) {
    if (!window.Chart || !canvas || !breakdown) { return null; }
    var chart = new window.Chart(canvas, {
      type: "doughnut",
      data: { labels: breakdown.labels, datasets: [{ data: breakdown.values, borderWidth: 1 }] },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: {
          legend: { position: "bottom", labels: {
            boxWidth: 12,
            // A long reason is cut in the legend (the table beside it has it whole; so has the tooltip).
            generateLabels: function (chart) {
              var items = window.Chart.overrides.doughnut.plugins.legend.labels.generateLabels(chart);
              items.forEach(function (item) { if (item.text.length > 32) { item.text = item.text.slice(0, 31) + "\u2026"; } });
              return items;
            }
          } }
        },
        // A click on a slice lists that reason's entries.
        onClick: function (event, elements) {
          var urls = breakdown.urls || [];
          if (elements.length && urls[elements[0].index]) { window.location.href = urls[elements[0].index]; }
        },
        onHover: function (event, elements) {
          if (event.native && event.native.target) { event.native.target.style.cursor = elements.length ? "pointer" : ""; }
        }
      }
    });
    function paint() {
      var palette = [];
      for (var i = 1; i <= 8; i += 1) { palette.push(cssVar(root, "--cd-c" + i, "#888")); }
      var ds = chart.data.datasets[0];
      ds.backgroundColor = breakdown.labels.map(function (_, i) { return palette[i % palette.length]; });
      ds.borderColor = cssVar(root, "--cd-grid", "#e8e8e8");
      chart.options.plugins.legend.labels.color = cssVar(root, "--cd-text", "#666");
      chart.update("none");
    }
    onThemeChange(paint);
    paint();
    return chart;
  }

  // ---- the live overview ------------------------------------------------------------------

  function Overview(el, root) {
    this.el = el;
    this.root = root;
    this.endpoint = el.getAttribute("data-endpoint");
    this.alias = el.getAttribute("data-alias");
    this.window = el.getAttribute("data-window");
    this.nsQuery = el.getAttribute("data-ns-query") || "";
    this.nsPage = el.getAttribute("data-ns-page") || "1";
    useTimeZone(el.getAttribute("data-time-zone"));
    this.interval = Math.max(1000, parseInt(el.getAttribute("data-poll-ms"), 10) || 5000);
    this.strings = readJSON("cd-strings") || {};
    this.live = el.querySelector("[data-cd-live]");
    this.polls = 0;
    this.timer = null;
    this.inFlight = false;
    this.again = false;
    this.lastSuccess = new Date();
    this.stale = false;
    var data = readJSON("cd-data") || {};
    this.chart = lineChart(document.getElementById("cd-hits-chart"), root, data, this.strings);
    this.serverChart = serverChart(document.getElementById("cd-server-chart"), root, data.server_history, this.strings);
    this.sourcesChart = sourcesChart(document.getElementById("cd-sources-chart"), root, data.stats, this.strings);
    this.bindWindows();
  }

  Overview.prototype.t = function (key, params) {
    var text = this.strings[key] || key;
    Object.keys(params || {}).forEach(function (name) { text = text.replace("%(" + name + ")s", params[name]); });
    return text;
  };

  Overview.prototype.bindWindows = function () {
    var self = this;
    this.el.querySelectorAll("[data-cd-window]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        self.window = link.getAttribute("data-cd-window");
        self.el.querySelectorAll("[data-cd-window]").forEach(function (other) {
          if (other === link) { other.setAttribute("aria-current", "true"); } else { other.removeAttribute("aria-current"); }
        });
        if (window.history && window.history.replaceState) {
          // The page's other parameters (the namespaces' page and search) stay in the address.
          var address = new URL(window.location.href);
          address.searchParams.set("window", self.window);
          window.history.replaceState(null, "", address.toString());
        }
        self.poll();
      });
    });
  };

  Overview.prototype.start = function () {
    var self = this;
    document.addEventListener("visibilitychange", function () {
      // Polling pauses while the tab is hidden and catches up at once when it is shown again.
      if (document.visibilityState === "visible") { self.poll(); } else { self.stop(); }
    });
    this.schedule();
  };

  Overview.prototype.stop = function () {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
  };

  Overview.prototype.schedule = function () {
    var self = this;
    this.stop();
    if (document.visibilityState === "hidden") { return; }
    this.timer = setTimeout(function () { self.poll(); }, this.interval);
  };

  Overview.prototype.poll = function () {
    var self = this;
    this.stop();
    // A request is already out (e.g. the window was switched mid-poll): poll again right after it.
    if (this.inFlight) { this.again = true; return; }
    this.inFlight = true;
    this.again = false;
    var query = { alias: this.alias, window: this.window, ns_page: this.nsPage };
    if (this.nsQuery) { query.ns_q = this.nsQuery; }
    var url = this.endpoint + "?" + new URLSearchParams(query).toString();
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        self.apply(data);
        self.polls += 1;
        self.lastSuccess = new Date();
        self.stale = false;
        if (self.live) {
          self.live.classList.remove("cd-live--stale");
          self.live.textContent = self.t("updated", { time: clock(self.lastSuccess) });
        }
        self.el.setAttribute("data-cd-polls", String(self.polls));
      })
      .catch(function () {
        // Keep the last numbers on screen and say how old they are; never break the page.
        self.stale = true;
        if (self.live) {
          self.live.classList.add("cd-live--stale");
          self.live.textContent = self.t("stale", { time: clock(self.lastSuccess) });
        }
        self.el.setAttribute("data-cd-stale", "true");
      })
      .then(function () {
        self.inFlight = false;
        if (self.again) { self.poll(); } else { self.schedule(); }
      });
  };

  Overview.prototype.apply = function (data) {
    this.el.querySelectorAll("[data-cd-bind]").forEach(function (node) {
      node.textContent = format(node.getAttribute("data-cd-format") || "text", pick(data, node.getAttribute("data-cd-bind")));
    });
    var status = (data.health && data.health.status) || "unhealthy";
    var badge = this.el.querySelector("[data-cd-status]");
    if (badge) {
      badge.className = "cd-badge cd-badge--" + status;
      badge.textContent = this.strings[status] || status;
    }
    this.applyFragments(data.html || {});
    var available = !!(data.stats && data.stats.available);
    var box = this.el.querySelector("[data-cd-chart]");
    if (box) { box.hidden = !available; }  // the caption says why there is no chart
    if (this.chart && data.stats) { this.chart.cdSetData(data.stats); }
    var servers = data.server_history;
    var serverBox = this.el.querySelector("[data-cd-server-chart]");
    if (serverBox && servers) { serverBox.hidden = !servers.available; }
    if (this.serverChart && servers) { this.serverChart.cdSetData(servers); }
    var sourcesBox = this.el.querySelector("[data-cd-sources-chart]");
    var shown = available && !!(data.stats.source_chart && data.stats.source_chart.shown);
    if (sourcesBox) { sourcesBox.hidden = !shown; }  // the table says "Nothing was invalidated"
    if (this.sourcesChart && data.stats) { this.sourcesChart.cdSetData(data.stats); }
  };

  // Tables arrive rendered by the server with the same templates as the page (one renderer), so
  // they read exactly as after a reload. A cell marked data-cd-keep is one the poll does not
  // carry (e.g. invalid counts): it keeps what the page showed in the same row and column.
  Overview.prototype.applyFragments = function (html) {
    this.el.querySelectorAll("[data-cd-fragment]").forEach(function (target) {
      var name = target.getAttribute("data-cd-fragment");
      if (typeof html[name] !== "string") { return; }
      // A Map, not an object: a namespace may be called "__proto__" or "constructor".
      var kept = new Map();
      var cell = function (td) { return td.parentNode.getAttribute("data-cd-ns") + "\u0000" + td.getAttribute("data-cd-col"); };
      target.querySelectorAll("tr[data-cd-ns] [data-cd-col]").forEach(function (td) { kept.set(cell(td), td.textContent); });
      target.innerHTML = html[name];
      target.querySelectorAll("[data-cd-keep]").forEach(function (td) {
        if (kept.has(cell(td))) { td.textContent = kept.get(cell(td)); }
      });
    });
  };

  function init() {
    var root = document.getElementById("cd-root");
    if (!root) { return; }
    watchTheme();
    var overviewEl = root.querySelector("[data-cd-overview]");
    if (overviewEl) {
      var overview = new Overview(overviewEl, root);
      overview.start();
    }
    doughnutChart(document.getElementById("cd-breakdown-chart"), root, readJSON("cd-breakdown"));
    root.setAttribute("data-cd-ready", "true");
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
