// connpage.js: the views of report.html and the clicks that lead to them.
//
// Views. The URL fragment picks a view: report.html#flow=N shows connection
// N; an empty fragment shows the report itself. A view is registered with
//
//   tcpvizViews.add("name", {open: function (arg, root) {...}, close: function () {...}});
//
// "#name=arg" then hides the report's sections and calls open with the text
// after "=" and the empty <section id="view"> to fill; close is called when
// the fragment changes. Data for a view comes from Go through
// Report.SetData(key, json), readable here as tcpvizData[key].
//
// The connection view is a stack of panels, one ECharts instance each, on
// one linked time axis (seconds from the capture's first packet). A panel is
//
//   tcpvizConn.addPanel({id: "cv_x", title: "...", height: 300, order: 50,
//     option: function (cx) { return echartsOption; },     // first drawing
//     update: function (cx, lo, hi) { return partialOption; }, // after each zoom (ns from origin), optional
//     tools: function (cx, el) {...},                        // optional controls above the chart
//     when: function (cx) { return bool; }});                // optional: only the connections it is true for
//
// cx holds the decoded connection (cx.c), its span (cx.lo, cx.hi, in ns from
// the origin) and helpers (cx.base: axis, grid, toolbox and zoom every panel
// shares; cx.lod: level-of-detail sampling). Every data item is
// [x, y, frame, ns, ...]: x in seconds, frame in Wireshark's numbering, so
// tooltips and the click-to-Wireshark command work on every panel alike.
(function () {
  "use strict";
  var D = (typeof tcpvizData === "object" && tcpvizData) || {};
  var meta = D.meta || {file: "", limit_names: []};

  // ---- views -------------------------------------------------------------
  var views = {}, current = null;
  function isReport() { return !!document.getElementById("view"); }
  function go(flow) {
    if (isReport()) { location.hash = "flow=" + flow; } else { location.href = "report.html#flow=" + flow; }
  }
  function route() {
    var root = document.getElementById("view");
    if (!root) { return; }
    if (current && current.close) { current.close(); }
    current = null;
    root.textContent = "";
    var m = /^#([a-z]+)=(.*)$/.exec(location.hash);
    if (m && views[m[1]]) {
      document.body.classList.add("in-view");
      current = views[m[1]];
      current.open(decodeURIComponent(m[2]), root);
      window.scrollTo(0, 0);
      return;
    }
    document.body.classList.remove("in-view");
    document.querySelectorAll("main [_echarts_instance_]").forEach(function (el) {
      var c = echarts.getInstanceByDom(el); if (c) { c.resize(); }
    });
  }
  window.tcpvizViews = {add: function (name, v) { views[name] = v; }, route: route, go: go};

  // ---- helpers -------------------------------------------------------------
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function esc(s) { return tcpvizEsc(s); }
  function shq(s) { return "'" + String(s).replace(/'/g, "'\\''") + "'"; }
  function undelta(a) {
    var o = new Float64Array(a ? a.length : 0), v = 0;
    for (var i = 0; i < o.length; i++) { v += a[i]; o[i] = v; }
    return o;
  }
  function plain(a) { return Float64Array.from(a || []); }
  // undeltaBy: differences kept apart for each direction d[i].
  function undeltaBy(a, d) {
    var o = new Float64Array(a.length), v = [0, 0];
    for (var i = 0; i < o.length; i++) { v[d[i]] += a[i]; o[i] = v[d[i]]; }
    return o;
  }
  // lower bound: first index i of the sorted array t with t[i] >= v.
  function lb(t, v) {
    var lo = 0, hi = t.length;
    while (lo < hi) { var m = (lo + hi) >> 1; if (t[m] < v) { lo = m + 1; } else { hi = m; } }
    return lo;
  }
  function sec(ns) { return ns / 1e9; }
  function fmtSec(ns) { return tcpvizSec(ns / 1e9); }

  // decode turns the columns Go wrote (viz/connpage.go) into typed arrays.
  function decode(raw) {
    var c = {flow: raw.flow, label: raw.label, client: raw.client, server: raw.server, comm: raw.comm, pid: raw.pid,
      stream: raw.stream, dir: raw.dir, mss: raw.mss || 1448, lostPackets: raw.lost_packets, lostEvents: raw.lost_events,
      codes: raw.codes || [], limits: raw.limits || {spans: []}};
    var p = raw.p, i;
    // Columns as viz/connpage.go writes them: times in units of tu ns;
    // g holds the flags (9 bits), the direction and the SACK block count;
    // s, a, l and w are differences within each direction.
    c.t = undelta(p.t);
    if (raw.tu > 1) { for (i = 0; i < c.t.length; i++) { c.t[i] *= raw.tu; } }
    c.f = undelta(p.f);
    c.n = c.t.length;
    c.g = new Float64Array(c.n); c.d = new Uint8Array(c.n); c.k = new Uint8Array(c.n);
    for (i = 0; i < c.n; i++) { var g = p.g[i]; c.g[i] = g & 0x1ff; c.d[i] = (g >> 9) & 1; c.k[i] = g >> 10; }
    c.s = undeltaBy(p.s, c.d); c.a = undeltaBy(p.a, c.d); c.l = undeltaBy(p.l, c.d); c.w = undeltaBy(p.w, c.d);
    c.sackAt = new Int32Array(c.n + 1);
    for (i = 0; i < c.n; i++) { c.sackAt[i + 1] = c.sackAt[i] + c.k[i]; }
    c.sack = raw.sack || [];
    // Packets of the data direction (I-beams) and of the other (ACKs).
    var dn = 0;
    for (i = 0; i < c.n; i++) { if (c.d[i] === c.dir) { dn++; } }
    c.di = new Int32Array(dn); c.ai = new Int32Array(c.n - dn);
    for (i = 0, dn = 0; i < c.n; i++) { if (c.d[i] === c.dir) { c.di[dn++] = i; } else { c.ai[i - dn] = i; } }
    c.dt = Float64Array.from(c.di, function (j) { return c.t[j]; });
    c.at = Float64Array.from(c.ai, function (j) { return c.t[j]; });
    c.ev = {t: undelta(raw.ev.t), f: undelta(raw.ev.f), r: plain(raw.ev.r), c: plain(raw.ev.c)};
    c.rtt = {t: undelta(raw.rtt.t), f: undelta(raw.rtt.f), v: plain(raw.rtt.v)};
    var k = raw.kern, kd = [];
    c.kern = {t: undelta(k.t), f: undelta(k.f)};
    ["cwnd", "ssthresh", "srtt_us", "min_rtt_us", "packets_out", "snd_wnd", "ca_state", "delivery_bps", "pacing_bps", "dir"].forEach(function (n) { c.kern[n] = plain(k[n]); });
    // The data sender's socket: on loopback both ends have records.
    for (i = 0; i < c.kern.t.length; i++) { if (c.kern.dir[i] === c.dir) { kd.push(i); } }
    if (kd.length === 0) { for (i = 0; i < c.kern.t.length; i++) { kd.push(i); } }
    c.ki = kd;
    // Frame -> packet index (frames grow with packet order).
    c.byFrame = function (fr) { var j = lb(c.f, fr); return (j < c.n && c.f[j] === fr) ? j : -1; };
    // Marks on segments: retransmissions by kind, out-of-order.
    c.marks = {};
    for (i = 0; i < c.ev.t.length; i++) {
      var code = c.codes[c.ev.c[i]] || "", kind = null;
      if (code.indexOf("retransmission") === 0) {
        var kk = code.split(":")[1] || "";
        kind = kk === "fast" ? "fast" : kk === "rto" ? "rto" : kk === "tlp" ? "tlp" : kk === "spurious" ? "spurious" : "other";
      } else if (code.indexOf("spurious_retransmission") === 0) {
        kind = "spurious";
      } else if (code.indexOf("out_of_order") === 0) {
        kind = "ooo";
      }
      if (!kind) { continue; }
      var j = c.byFrame(c.ev.f[i]);
      if (j < 0 || c.d[j] !== c.dir) { j = c.ev.r[i] ? c.byFrame(c.ev.r[i]) : -1; }
      if (j < 0) { continue; }
      (c.marks[kind] = c.marks[kind] || []).push(j);
      if (kind !== "ooo") { c.retx = c.retx || {}; c.retx[j] = kind; }
    }
    c.lo = c.n ? c.t[0] : 0;
    c.hi = c.n ? c.t[c.n - 1] : 1e6;
    if (c.hi <= c.lo) { c.hi = c.lo + 1e6; }
    return c;
  }

  // lod samples a series of packets (indices idx into times tt) in [lo, hi]:
  // every point when there are at most max of them, otherwise the minimum
  // and the maximum of each of cols columns, each a real sample with its
  // frame. val(j) gives the value of packet j (null to skip). One point on
  // each side of the window keeps lines going to the edges.
  function lod(tt, idx, frames, times, val, lo, hi, max, cols) {
    var a = Math.max(lb(tt, lo) - 1, 0), b = Math.min(lb(tt, hi + 1) + 1, tt.length);
    var out = [], i, j, v;
    if (b - a <= max) {
      for (i = a; i < b; i++) {
        j = idx ? idx[i] : i; v = val(j);
        if (v !== null) { out.push([sec(times[j]), v, frames[j], times[j]]); }
      }
      return {items: out, full: true};
    }
    var w = (hi - lo) / cols, col = -1, mn = null, mx = null;
    function flush() {
      if (mn === null) { return; }
      if (mn[0] <= mx[0]) { out.push(mn); if (mx !== mn) { out.push(mx); } } else { out.push(mx); out.push(mn); }
    }
    for (i = a; i < b; i++) {
      j = idx ? idx[i] : i; v = val(j);
      if (v === null) { continue; }
      var cc = Math.floor((times[j] - lo) / w);
      if (cc !== col) { flush(); col = cc; mn = mx = null; }
      var it = [sec(times[j]), v, frames[j], times[j]];
      if (mn === null || v < mn[1]) { mn = it; }
      if (mx === null || v > mx[1]) { mx = it; }
    }
    flush();
    return {items: out, full: false};
  }

  // ---- the connection view -------------------------------------------------
  var panels = [];
  var LOD_MAX = 4000;   // points drawn one by one below this many in view
  var LOD_COLS = 700;   // columns (min and max each) above it
  var GRID = {left: 90, right: 90, top: 74, bottom: 34};
  var dataNames = {};

  function base(cx, title, sub, yName) {
    return {
      animation: false,
      title: {text: title, subtext: sub || "", left: 8, textStyle: {fontSize: 13}, subtextStyle: {fontSize: 11}},
      legend: {top: 30, left: 10, right: 150, type: "plain"},
      grid: {left: GRID.left, right: GRID.right, top: GRID.top, bottom: GRID.bottom},
      toolbox: {right: 12, top: 0, feature: {dataZoom: {yAxisIndex: "none", title: {zoom: "zoom time", back: "undo zoom"}},
        restore: {title: "reset zoom"}, dataView: {readOnly: true, title: "data view", lang: ["data view", "close", "refresh"]},
        saveAsImage: {title: "save as image", name: "tcpviz-flow-" + cx.c.flow}}},
      tooltip: {trigger: "item", confine: true},
      xAxis: {type: "value", min: sec(cx.lo), max: sec(cx.hi), name: "s",
        axisLabel: {formatter: function (v) { return tcpvizSec(v); }}},
      yAxis: {type: "value", name: yName || "", axisLabel: {formatter: function (v) { return tcpvizNum(v); }}},
      dataZoom: [{type: "inside", xAxisIndex: 0, filterMode: "none"}],
      series: []
    };
  }

  // axisTip lists, at the hovered time, each series' nearest point with
  // its frame (lines have no symbol to hover one by one). extra(p) may add
  // text to a row.
  function axisTip(unit, extra) {
    return function (ps) {
      if (!ps || !ps.length) { return ""; }
      var h = "<b>" + esc(tcpvizSec(ps[0].axisValue)) + " s</b>";
      ps.forEach(function (p) {
        var d = p.data;
        if (!d || d[1] === null || d[1] === undefined) { return; }
        h += "<br>" + p.marker + esc(p.seriesName) + ": " + esc(tcpvizNum(d[1])) + (unit ? " " + esc(unit) : "");
        if (d[2] !== "" && d[2] !== undefined) { h += " (frame: " + esc(d[2]) + (d[4] !== undefined && d[4] !== "" && extra === "frames" ? " to " + esc(d[4]) : "") + ")"; }
        if (typeof extra === "function") { h += extra(p); }
      });
      return h;
    };
  }
  function frameRow(d) {
    return "<b>frame</b>: " + esc(d[2]) + "<br><b>time</b>: " + esc(fmtSec(d[3])) + " s";
  }

  // tcptrace's time-sequence graph.
  var KINDS = [
    ["fast", "fast retransmission", "#d62728", "diamond"],
    ["rto", "RTO retransmission", "#7b0000", "triangle"],
    ["tlp", "tail-loss probe", "#ff4fa3", "pin"],
    ["spurious", "spurious retransmission", "#ff9896", "emptyCircle"],
    ["other", "other retransmission", "#a50f15", "rect"],
    ["ooo", "out-of-order", "#ff7f0e", "emptyTriangle"]
  ];
  function tsgOption(cx) {
    var c = cx.c, o = base(cx, "Time-sequence " + c.label, (c.dir ? "data sent by the server (s2c)" : "data sent by the client (c2s)") +
      "; I-beams are segments (one per frame when zoomed in), the ACK and receive-window lines come from the other side", "relative sequence");
    o.yAxis.scale = true;
    o.grid.top = 92; // two rows of legend
    o.yAxis.axisLabel = {formatter: function (v) { return tcpvizIEC(v); }};
    o.tooltip.formatter = function (p) { return tsgTip(c, p); };
    o.series = [
      {name: "segments", type: "custom", renderItem: ibeam, encode: {x: 0, y: [1, 4]}, itemStyle: {color: "#1f4eb4"}, data: [], z: 3},
      {name: "ACK", type: "line", step: "end", showSymbol: true, symbolSize: 2, itemStyle: {color: "#2e9e4f"}, lineStyle: {width: 1.2}, data: []},
      {name: "receive window", type: "line", step: "end", showSymbol: false, itemStyle: {color: "#d9a400"}, lineStyle: {width: 1.2}, data: []},
      {name: "SACK", type: "custom", renderItem: sackBar, encode: {x: 0, y: [1, 4]}, itemStyle: {color: "#9a60b4"}, data: [], z: 4},
      {name: "D-SACK", type: "custom", renderItem: sackBar, encode: {x: 0, y: [1, 4]}, itemStyle: {color: "#e7298a"}, data: [], z: 4}
    ];
    KINDS.forEach(function (k) {
      o.series.push({name: k[1], type: "scatter", symbol: k[3], symbolSize: 9, itemStyle: {color: k[2]}, data: [], z: 5});
    });
    return o;
  }
  function ibeam(params, api) {
    var x = api.value(0), y0 = api.value(1), y1 = api.value(4), n = api.value(5);
    var st = {stroke: api.visual("color"), lineWidth: 1, fill: api.visual("color")};
    if (n > 1) {
      var a = api.coord([x, y1]), b = api.coord([api.value(6), y0]);
      return {type: "rect", shape: {x: a[0], y: a[1], width: Math.max(b[0] - a[0], 1), height: Math.max(b[1] - a[1], 1)}, style: st};
    }
    var p0 = api.coord([x, y0]), p1 = api.coord([x, y1]);
    return {type: "group", children: [
      {type: "line", shape: {x1: p0[0], y1: p0[1], x2: p1[0], y2: p1[1]}, style: st},
      {type: "line", shape: {x1: p0[0] - 3, y1: p0[1], x2: p0[0] + 3, y2: p0[1]}, style: st},
      {type: "line", shape: {x1: p1[0] - 3, y1: p1[1], x2: p1[0] + 3, y2: p1[1]}, style: st}]};
  }
  function sackBar(params, api) {
    var p0 = api.coord([api.value(0), api.value(1)]), p1 = api.coord([api.value(0), api.value(4)]);
    return {type: "line", shape: {x1: p0[0], y1: p0[1], x2: p1[0], y2: p1[1]}, style: {stroke: api.visual("color"), lineWidth: 3}};
  }
  function flagText(g) {
    var s = "";
    [[2, "SYN"], [1, "FIN"], [4, "RST"], [8, "PSH"], [16, "ACK"]].forEach(function (f) { if (g & f[0]) { s += (s ? "," : "") + f[1]; } });
    return s;
  }
  function tsgTip(c, p) {
    var d = p.data;
    if (!d) { return ""; }
    if (p.seriesName === "segments" && d[5] > 1) {
      return "<b>" + esc(d[5]) + " segments</b> (zoom in for each)<br><b>frames</b>: " + esc(d[2]) + " to " + esc(d[7]) +
        "<br><b>time</b>: " + esc(fmtSec(d[3])) + " s to " + esc(tcpvizSec(d[6])) + " s<br><b>seq</b>: " + esc(d[1]) + " to " + esc(d[4]);
    }
    var h = "<b>" + esc(p.seriesName) + "</b><br>" + frameRow(d);
    var j = c.byFrame(d[2]);
    if (j >= 0) {
      h += "<br><b>seq</b>: " + esc(c.s[j]) + " to " + esc(c.s[j] + c.l[j]) + " (len " + esc(c.l[j]) + ")";
      h += "<br><b>ack</b>: " + esc(c.a[j]) + (c.w[j] >= 0 ? "<br><b>window</b>: " + esc(tcpvizIEC(c.w[j])) : "");
      h += "<br><b>flags</b>: " + esc(flagText(c.g[j]));
      if (c.retx && c.retx[j]) { h += "<br><b>retransmission</b>: " + esc(c.retx[j]); }
    }
    if (p.seriesName === "SACK" || p.seriesName === "D-SACK") { h += "<br><b>block</b>: " + esc(d[1]) + " to " + esc(d[4]); }
    return h;
  }
  function tsgUpdate(cx, lo, hi) {
    var c = cx.c, segs = [], ymin = Infinity, ymax = -Infinity, i, j;
    var a = lb(c.dt, lo), b = lb(c.dt, hi + 1);
    var detail = (b - a) + (lb(c.at, hi + 1) - lb(c.at, lo)) <= LOD_MAX;
    if (detail) {
      for (i = Math.max(a - 1, 0); i < Math.min(b + 1, c.di.length); i++) {
        j = c.di[i];
        var len = c.l[j] + ((c.g[j] & 3) ? 1 : 0);
        segs.push([sec(c.t[j]), c.s[j], c.f[j], c.t[j], c.s[j] + len, 1]);
        if (i >= a && i < b) { ymin = Math.min(ymin, c.s[j]); ymax = Math.max(ymax, c.s[j] + len); }
      }
    } else {
      var w = (hi - lo) / LOD_COLS, col = -1, cur = null;
      for (i = a; i < b; i++) {
        j = c.di[i];
        var cc = Math.floor((c.t[j] - lo) / w), e = c.s[j] + c.l[j];
        if (cc !== col) {
          if (cur) { segs.push(cur); }
          col = cc;
          cur = [sec(lo + cc * w), c.s[j], c.f[j], c.t[j], e, 0, sec(lo + (cc + 1) * w), c.f[j]];
        }
        cur[1] = Math.min(cur[1], c.s[j]); cur[4] = Math.max(cur[4], e); cur[5]++; cur[7] = c.f[j];
        ymin = Math.min(ymin, c.s[j]); ymax = Math.max(ymax, e);
      }
      if (cur) { segs.push(cur); }
      segs.forEach(function (s) { if (s[5] === 1) { s[6] = s[0]; } });
    }
    var acks = lod(c.at, c.ai, c.f, c.t, function (j) { return (c.g[j] & 16) ? c.a[j] : null; }, lo, hi, LOD_MAX, LOD_COLS);
    var wins = lod(c.at, c.ai, c.f, c.t, function (j) { return (c.g[j] & 16) && c.w[j] >= 0 ? c.a[j] + c.w[j] : null; }, lo, hi, LOD_MAX, LOD_COLS);
    acks.items.forEach(function (it) { if (it[3] >= lo && it[3] <= hi) { ymin = Math.min(ymin, it[1]); ymax = Math.max(ymax, it[1]); } });
    var sack = [], dsack = [];
    var sa = lb(c.at, lo), sb = lb(c.at, hi + 1);
    if (sb - sa <= 3 * LOD_MAX) {
      for (i = sa; i < sb; i++) {
        j = c.ai[i];
        for (var q = c.sackAt[j]; q < c.sackAt[j + 1]; q++) {
          var l = c.a[j] + c.sack[2 * q], r = c.a[j] + c.sack[2 * q + 1];
          // D-SACK (RFC 2883): the first block lies below the ACK, or
          // inside the second block.
          var ds = q === c.sackAt[j] && (r <= c.a[j] || (c.k[j] > 1 && l >= c.a[j] + c.sack[2 * q + 2] && r <= c.a[j] + c.sack[2 * q + 3]));
          (ds ? dsack : sack).push([sec(c.t[j]), l, c.f[j], c.t[j], r]);
        }
      }
    }
    var marks = KINDS.map(function (k) {
      var list = c.marks[k[0]] || [], out = [];
      for (var m = 0; m < list.length; m++) {
        j = list[m];
        if (c.t[j] >= lo && c.t[j] <= hi) { out.push([sec(c.t[j]), c.s[j] + c.l[j] / 2, c.f[j], c.t[j]]); }
      }
      return {data: out};
    });
    var series = [{data: segs}, {data: acks.items, showSymbol: acks.full}, {data: wins.items}, {data: sack}, {data: dsack}].concat(marks);
    var opt = {series: series};
    if (ymin < Infinity) {
      var pad = Math.max((ymax - ymin) * 0.04, 1);
      opt.yAxis = {min: Math.max(Math.floor(ymin - pad), ymin >= 0 ? 0 : -Infinity), max: Math.ceil(ymax + pad)};
    }
    cx.state.tsgDetail = detail;
    return opt;
  }

  // Kernel congestion state and windows, in segments.
  var CA = ["open", "disorder", "cwr", "recovery", "loss"];
  var CA_COLOR = [null, "rgba(250,200,40,0.25)", "rgba(150,150,255,0.25)", "rgba(255,140,0,0.25)", "rgba(220,30,30,0.25)"];
  function congOption(cx) {
    var c = cx.c, kern = c.ki.length > 0;
    var o = base(cx, (kern ? "Kernel cwnd, ssthresh and in flight " : "In flight and receive window (INFERRED) ") + c.label,
      "segments of " + c.mss + " B" + (kern ? "; bands: congestion state (yellow disorder, blue cwr, orange recovery, red loss)" : "; no kernel records for this socket"), "segments");
    o.yAxis.min = 0;
    o.tooltip = {trigger: "axis", confine: true, formatter: axisTip("", function (p) {
      return p.data[4] !== undefined ? ", state " + esc(CA[p.data[4]] || p.data[4]) : "";
    })};
    var bands = [];
    if (kern) {
      var from = -1, st = 0, K = c.kern;
      c.ki.forEach(function (i, n) {
        var s = K.ca_state[i];
        if (s !== st) {
          if (from >= 0 && st > 0) { bands.push([{xAxis: sec(from), itemStyle: {color: CA_COLOR[st] || "rgba(0,0,0,0.1)"}, name: CA[st] || ""}, {xAxis: sec(K.t[i])}]); }
          from = K.t[i]; st = s;
        }
        if (n === c.ki.length - 1 && st > 0) { bands.push([{xAxis: sec(from), itemStyle: {color: CA_COLOR[st] || "rgba(0,0,0,0.1)"}, name: CA[st] || ""}, {xAxis: sec(K.t[i])}]); }
      });
    }
    o.series = [
      {name: "kernel cwnd", type: "line", step: "end", showSymbol: false, itemStyle: {color: "#2f5bd3"}, data: [],
        markArea: {silent: true, label: {show: false}, data: bands}},
      {name: "kernel ssthresh", type: "line", step: "end", showSymbol: false, itemStyle: {color: "#8c564b"}, lineStyle: {type: "dashed"}, data: []},
      {name: "kernel packets_out", type: "line", step: "end", showSymbol: false, itemStyle: {color: "#17becf"}, data: []},
      {name: "in flight (inferred)", type: "line", showSymbol: false, itemStyle: {color: "#9a9a9a"}, lineStyle: {width: 1}, data: []},
      {name: "peer receive window", type: "line", step: "end", showSymbol: false, itemStyle: {color: "#d9a400"}, data: []}
    ];
    if (!kern) { o.series = o.series.slice(3); }
    // In flight from the packets: highest sequence sent minus highest ACK.
    var fl = new Float64Array(c.n), hs = -Infinity, ha = -Infinity;
    for (var j = 0; j < c.n; j++) {
      if (c.d[j] === c.dir) { hs = Math.max(hs, c.s[j] + c.l[j]); } else if (c.g[j] & 16) { ha = Math.max(ha, c.a[j]); }
      fl[j] = (hs > -Infinity && ha > -Infinity) ? Math.max(hs - ha, 0) / c.mss : NaN;
    }
    cx.state.flight = fl;
    return o;
  }
  function congUpdate(cx, lo, hi) {
    var c = cx.c, K = c.kern, s = [];
    if (c.ki.length > 0) {
      var kt = Float64Array.from(c.ki, function (i) { return K.t[i]; });
      var kv = function (col, skip) {
        return lod(kt, c.ki, K.f, K.t, function (i) { var v = K[col][i]; return v === skip ? null : v; }, lo, hi, LOD_MAX, LOD_COLS).items
          .map(function (it) { var i = c.ki[lb(kt, it[3])]; it.push(K.ca_state[i]); return it; });
      };
      s.push({data: kv("cwnd", 0)}, {data: kv("ssthresh", -1)}, {data: kv("packets_out", -2)});
    }
    var fl = cx.state.flight;
    s.push({data: lod(c.t, null, c.f, c.t, function (j) { return c.d[j] === c.dir && !isNaN(fl[j]) ? Math.round(fl[j] * 100) / 100 : null; }, lo, hi, LOD_MAX, LOD_COLS).items});
    s.push({data: lod(c.at, c.ai, c.f, c.t, function (j) { return c.w[j] >= 0 ? Math.round(c.w[j] / c.mss * 100) / 100 : null; }, lo, hi, LOD_MAX, LOD_COLS).items});
    return {series: s};
  }

  // RTT: the detectors' per-ACK samples and the kernel's srtt and min_rtt.
  function rttOption(cx) {
    var o = base(cx, "RTT " + cx.c.label, "per-ACK samples (detectors) and the kernel's smoothed and minimum RTT", "ms");
    o.yAxis.min = 0;
    o.tooltip = {trigger: "axis", confine: true, formatter: axisTip("ms")};
    o.series = [
      {name: "RTT sample", type: "scatter", symbolSize: 4, itemStyle: {color: "#fa8c16"}, data: []},
      {name: "kernel srtt", type: "line", showSymbol: false, itemStyle: {color: "#2f5bd3"}, data: []},
      {name: "kernel min_rtt", type: "line", step: "end", showSymbol: false, itemStyle: {color: "#2e9e4f"}, lineStyle: {type: "dashed"}, data: []}
    ];
    return o;
  }
  function rttUpdate(cx, lo, hi) {
    var c = cx.c, K = c.kern, R = c.rtt;
    var kt = Float64Array.from(c.ki, function (i) { return K.t[i]; });
    return {series: [
      {data: lod(R.t, null, R.f, R.t, function (i) { return R.v[i] / 1000; }, lo, hi, LOD_MAX, LOD_COLS).items},
      {data: lod(kt, c.ki, K.f, K.t, function (i) { return K.srtt_us[i] ? K.srtt_us[i] / 1000 : null; }, lo, hi, LOD_MAX, LOD_COLS).items},
      {data: lod(kt, c.ki, K.f, K.t, function (i) { return K.min_rtt_us[i] ? K.min_rtt_us[i] / 1000 : null; }, lo, hi, LOD_MAX, LOD_COLS).items}
    ]};
  }

  // Throughput and goodput over a chosen averaging window.
  var WINDOWS = [["auto", 0], ["1 ms", 1e6], ["10 ms", 1e7], ["100 ms", 1e8], ["1 s", 1e9]];
  function tputOption(cx) {
    var o = base(cx, "Throughput and goodput " + cx.c.label, "", "Mbit/s");
    o.yAxis.min = 0;
    // Bins name their first and last frame.
    o.tooltip = {trigger: "axis", confine: true, formatter: axisTip("Mbit/s", "frames")};
    o.series = [
      {name: "throughput (all data sent)", type: "line", showSymbol: false, step: "middle", itemStyle: {color: "#5470c6"}, data: []},
      {name: "goodput (newly acknowledged)", type: "line", showSymbol: false, step: "middle", itemStyle: {color: "#3ba272"}, areaStyle: {opacity: 0.2}, data: [],
        markLine: {silent: true, symbol: "none", label: {formatter: "avg {c} Mbit/s", position: "insideEndTop"}, lineStyle: {color: "#3ba272", type: "dashed"}, data: [{type: "average", name: "average"}]}},
      {name: "retransmitted", type: "line", showSymbol: false, step: "middle", itemStyle: {color: "#d62728"}, data: []},
      {name: "kernel delivery rate", type: "line", showSymbol: false, itemStyle: {color: "#8c564b"}, data: []},
      {name: "kernel pacing rate", type: "line", showSymbol: false, itemStyle: {color: "#bcbd22"}, lineStyle: {type: "dotted"}, data: []}
    ];
    return o;
  }
  function tputTools(cx, box) {
    box.appendChild(el("span", "", "averaging window "));
    var sel = el("select");
    sel.id = "cv_tput_window";
    WINDOWS.forEach(function (w) { var op = el("option", "", w[0]); op.value = String(w[1]); sel.appendChild(op); });
    sel.addEventListener("change", function () { cx.state.tputWin = Number(sel.value); cx.refresh(); });
    box.appendChild(sel);
    cx.state.tputNote = el("span", "cv-note", "");
    box.appendChild(cx.state.tputNote);
  }
  function niceStep(ns) {
    var p = Math.pow(10, Math.floor(Math.log10(ns))), m = ns / p;
    return (m < 2 ? 2 : m < 5 ? 5 : 10) * p;
  }
  function tputUpdate(cx, lo, hi) {
    var c = cx.c, want = cx.state.tputWin || 0, span = hi - lo, w = want;
    var auto = Math.max(niceStep(span / 150), 1e5);
    var note = "";
    if (!w) { w = auto; } else if (span / w > 3000) { w = auto; note = "window too small for this span: " + tcpvizSec(w / 1e9) + " s used; zoom in"; }
    if (cx.state.tputNote) { cx.state.tputNote.textContent = " " + (note || ("bins of " + tcpvizSec(w / 1e9) + " s")); }
    var n = Math.max(Math.ceil(span / w), 1), sent = new Float64Array(n), good = new Float64Array(n), re = new Float64Array(n);
    var f0 = new Float64Array(n).fill(-1), f1 = new Float64Array(n);
    var a = lb(c.t, lo), b = lb(c.t, hi + 1), ha = -Infinity;
    for (var j = 0; j < a; j++) { if (c.d[j] !== c.dir && (c.g[j] & 16)) { ha = Math.max(ha, c.a[j]); } }
    for (j = a; j < b; j++) {
      var k = Math.min(Math.floor((c.t[j] - lo) / w), n - 1);
      if (f0[k] < 0) { f0[k] = c.f[j]; }
      f1[k] = c.f[j];
      if (c.d[j] === c.dir) {
        sent[k] += c.l[j];
        if (c.retx && c.retx[j]) { re[k] += c.l[j]; }
      } else if (c.g[j] & 16) {
        if (ha > -Infinity && c.a[j] > ha) { good[k] += c.a[j] - ha; }
        ha = Math.max(ha, c.a[j]);
      }
    }
    function ser(arr) {
      var out = [];
      for (var i = 0; i < n; i++) {
        if (f0[i] < 0) { out.push([sec(lo + (i + 0.5) * w), 0, "", lo + i * w, "", lo + i * w, lo + (i + 1) * w]); continue; }
        out.push([sec(lo + (i + 0.5) * w), Math.round(arr[i] * 8 / (w / 1e9) / 1e3) / 1e3, f0[i], lo + i * w, f1[i], lo + i * w, lo + (i + 1) * w]);
      }
      return out;
    }
    var K = c.kern, kt = Float64Array.from(c.ki, function (i) { return K.t[i]; });
    return {series: [{data: ser(sent)}, {data: ser(good)}, {data: ser(re)},
      {data: lod(kt, c.ki, K.f, K.t, function (i) { return K.delivery_bps[i] ? K.delivery_bps[i] / 1e6 : null; }, lo, hi, LOD_MAX, LOD_COLS).items},
      {data: lod(kt, c.ki, K.f, K.t, function (i) { return K.pacing_bps[i] ? K.pacing_bps[i] / 1e6 : null; }, lo, hi, LOD_MAX, LOD_COLS).items}]};
  }

  // Event lanes and the "what limited it" band.
  var LIMIT_COLOR = {rwnd: "#1f77b4", cwnd: "#d62728", sndbuf: "#9467bd", app: "#7f7f7f", recovery: "#ff7f0e", handshake: "#bcbd22"};
  function evOption(cx) {
    var c = cx.c, lanes = [], laneOf = {};
    for (var i = 0; i < c.ev.t.length; i++) {
      var typ = (c.codes[c.ev.c[i]] || "").split(":")[0];
      if (!(typ in laneOf)) { laneOf[typ] = -1; lanes.push(typ); }
    }
    lanes.sort();
    var limited = "limited by" + (c.limits.source ? " (" + c.limits.source + ")" : "");
    lanes.unshift(limited);
    lanes.forEach(function (l, n) { laneOf[l] = n; });
    cx.state.lanes = laneOf;
    var o = base(cx, "Events and what limited the sender " + c.label, c.limits.spans.length ? "the band is the dominant limit of each window where it changed (detectors/limits.go)" : "no limits analysis for this direction", "");
    o.grid.bottom = 60;
    o.yAxis = {type: "category", data: lanes, axisLabel: {fontSize: 10, width: 84, overflow: "truncate"}};
    o.dataZoom.push({type: "slider", xAxisIndex: 0, filterMode: "none", height: 18, bottom: 8});
    o.tooltip.formatter = function (p) {
      var d = p.data; if (!d) { return ""; }
      if (p.seriesName === "limit") {
        return "<b>limited by</b>: " + esc(meta.limit_names[d[5]] || "") + "<br><b>from</b> " + esc(fmtSec(d[3])) + " s <b>to</b> " + esc(tcpvizSec(d[4])) + " s<br><b>frame</b>: " + esc(d[2] || "–");
      }
      var h = "<b>" + esc(c.codes[d[5]] || p.seriesName) + "</b><br>" + frameRow(d);
      if (d[4]) { h += "<br><b>refers to frame</b>: " + esc(d[4]); }
      return h;
    };
    var spans = c.limits.spans.map(function (s) { return [sec(s[0]), 0, s[3], s[0], sec(s[1]), s[2]]; });
    o.series = [{name: "limit", type: "custom", data: spans, encode: {x: [0, 4], y: 1}, renderItem: function (params, api) {
      var a = api.coord([api.value(0), 0]), b = api.coord([api.value(4), 0]), h = api.size([0, 1])[1] * 0.6;
      var name = meta.limit_names[api.value(5)] || "";
      return {type: "rect", shape: {x: a[0], y: a[1] - h / 2, width: Math.max(b[0] - a[0], 1), height: h},
        style: {fill: LIMIT_COLOR[name] || "#999", text: (b[0] - a[0] > 40 ? name : ""), textFill: "#fff", fontSize: 10}};
    }}];
    lanes.slice(1).forEach(function (l) {
      o.series.push({name: l, type: "scatter", symbolSize: 7, itemStyle: {color: (meta.kind_color || {})[l] || "#666"}, data: []});
    });
    return o;
  }
  function evUpdate(cx, lo, hi) {
    var c = cx.c, by = {}, lanes = cx.state.lanes;
    var a = Math.max(lb(c.ev.t, lo) - 1, 0), b = lb(c.ev.t, hi + 1);
    // Many events in view: an even spread of them (every k-th per lane).
    var step = Math.max(Math.ceil((b - a) / LOD_MAX), 1), seen = {};
    for (var i = a; i < b; i++) {
      var code = c.codes[c.ev.c[i]] || "", typ = code.split(":")[0];
      var list = by[typ] = by[typ] || [];
      seen[typ] = (seen[typ] || 0) + 1;
      if ((seen[typ] - 1) % step === 0) { list.push([sec(c.ev.t[i]), lanes[typ], c.ev.f[i], c.ev.t[i], c.ev.r[i], c.ev.c[i]]); }
    }
    var s = [{}];
    Object.keys(lanes).forEach(function (l) { if (lanes[l] > 0) { s[lanes[l]] = {data: by[l] || []}; } });
    return {series: s};
  }

  panels.push({id: "cv_tsg", title: "time-sequence", height: 440, order: 10, option: tsgOption, update: tsgUpdate});
  panels.push({id: "cv_cong", title: "congestion", height: 300, order: 20, option: congOption, update: congUpdate});
  panels.push({id: "cv_rtt", title: "rtt", height: 260, order: 30, option: rttOption, update: rttUpdate});
  panels.push({id: "cv_tput", title: "throughput", height: 300, order: 40, option: tputOption, update: tputUpdate, tools: tputTools});
  panels.push({id: "cv_events", title: "events", height: 300, order: 90, option: evOption, update: evUpdate});

  // A connection's data is gzip'd JSON in base64: inflated when the page
  // opens, with the browser's own DecompressionStream (no network).
  var decoded = {};
  function loadConn(flow) {
    var b64 = D.conns && D.conns[flow];
    if (!b64) { return Promise.resolve(null); }
    if (decoded[flow]) { return Promise.resolve(decoded[flow]); }
    var bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text().then(function (txt) {
      decoded[flow] = decode(JSON.parse(txt));
      return decoded[flow];
    });
  }
  function connData(flow) { return decoded[flow] || null; }
  function hasData(flow) { return !!(D.conns && D.conns[flow]); }
  function summaryOf(flow) {
    var l = D.connList || [];
    for (var i = 0; i < l.length; i++) { if (String(l[i].flow) === String(flow)) { return l[i]; } }
    return null;
  }

  var open = null; // the connection on screen: {cx, charts}
  function status(text) { var s = document.getElementById("cv-status"); if (s) { s.textContent = text; } }
  function frameClicked(frame) {
    if (!frame) { return; }
    var cmd = "wireshark -r " + shq(meta.file || "CAPTURE") + " -g " + frame;
    var shown = "frame " + frame + ": " + cmd;
    status(shown + "  (copying…)");
    var done = function (ok) { status(shown + (ok ? "  (copied)" : "  (copy it from here: the clipboard is not available)")); };
    try {
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(cmd).then(function () { done(true); }, function () { done(false); });
      } else { done(false); }
    } catch (e) { done(false); }
    if (open) { open.cx.lastFrame = frame; }
  }

  var opening = 0; // the latest open: a slow inflate must not draw over a newer view
  function openConn(arg, root) {
    var flow = parseInt(arg, 10), token = ++opening;
    if (!hasData(flow)) { drawConn(flow, null, root); return; }
    var wait = el("p", "note", "Inflating the connection's segments…");
    root.appendChild(wait);
    loadConn(flow).then(function (c) {
      if (token !== opening) { return; }
      root.removeChild(wait);
      drawConn(flow, c, root);
    }, function (e) {
      wait.textContent = "Could not read this connection's data: " + e;
    });
  }
  function drawConn(flow, c, root) {
    var sum = summaryOf(flow);
    var head = el("div", "cv-head");
    var back = el("a", "cv-back", "← back to the report");
    back.href = "#";
    head.appendChild(back);
    head.appendChild(el("h2", "", "Connection " + (sum ? sum.label : "#" + flow)));
    root.appendChild(head);
    if (!sum && !c) { root.appendChild(el("p", "missing", "No connection #" + flow + " in this report.")); return; }
    var info = sum || c;
    var facts = [];
    if (sum) {
      if (sum.comm || sum.pid) { facts.push("process " + (sum.comm || "") + (sum.pid ? " (" + sum.pid + ")" : "")); }
      facts.push(sum.packets + " packets", tcpvizIEC(sum.bytes_c2s) + " c→s, " + tcpvizIEC(sum.bytes_s2c) + " s→c",
        tcpvizNum(sum.ms) + " ms", sum.retrans + " retransmissions");
      if (sum.limit) { facts.push("limited by " + sum.limit); }
    }
    head.appendChild(el("p", "note", facts.join(" · ")));
    var filt = "tcp.stream == " + info.stream;
    var fp = el("p", "cv-filter");
    fp.appendChild(document.createTextNode("tshark display filter: "));
    var code = el("code", "", filt); code.id = "cv-stream-filter"; fp.appendChild(code);
    fp.appendChild(document.createTextNode("  ·  "));
    fp.appendChild(el("code", "", "wireshark -r " + shq(meta.file || "CAPTURE") + " -Y " + shq(filt)));
    head.appendChild(fp);
    if (!c) {
      root.appendChild(el("p", "missing", "This connection's segments are not in this report (it details the worst connections and every --flow). " +
        "For its page: tcpviz report --in " + shq(meta.file || "CAPTURE") + " --flow " + flow));
      return;
    }
    var st = el("p", "cv-status", "Click any point: the command that opens its frame in Wireshark appears here (and is copied).");
    st.id = "cv-status";
    head.appendChild(st);
    if (c.lostPackets) { head.appendChild(el("p", "missing", "Only the first " + c.n + " packets are detailed (bound per connection); " + c.lostPackets + " more are in the capture.")); }
    var cx = {c: c, lo: c.lo, hi: c.hi, state: {}, charts: [], base: function (t, s, y) { return base(cx, t, s, y); }, lod: lod};
    var list = panels.filter(function (p) { return !p.when || p.when(cx); }).sort(function (a, b) { return a.order - b.order; });
    list.forEach(function (p) {
      var box = el("div", "cv-panel");
      if (p.tools) { var tb = el("div", "cv-tools"); p.tools(cx, tb); box.appendChild(tb); }
      var div = el("div", "cv-chart"); div.id = p.id; div.style.height = (p.height || 300) + "px";
      box.appendChild(div);
      root.appendChild(box);
      var ch = echarts.init(div, null, {renderer: "canvas"});
      ch.setOption(p.option(cx));
      ch.on("datazoom", function () { zoomedIn(ch); });
      ch.on("restore", function () { setRange(cx.lo, cx.hi, null); });
      ch.on("click", function (e) { if (e.data && e.data[2]) { frameClicked(e.data[2]); } });
      cx.charts.push({panel: p, chart: ch});
    });
    cx.refresh = function () { update(cx.view[0], cx.view[1]); };
    open = {cx: cx};
    cx.view = [cx.lo, cx.hi];
    update(cx.lo, cx.hi);
  }
  function update(lo, hi) {
    var cx = open.cx;
    cx.view = [lo, hi];
    cx.charts.forEach(function (pc) {
      if (!pc.panel.update) { return; }
      var o = pc.panel.update(cx, lo, hi);
      if (o) { pc.chart.setOption(o); }
    });
  }
  var syncing = false;
  // rangeOf reads the x window a chart's zoom shows, in ns from the origin.
  function rangeOf(ch) {
    var dz = ch.getOption().dataZoom[0], cx = open.cx, span = cx.hi - cx.lo;
    var lo = dz.startValue !== undefined ? dz.startValue * 1e9 : cx.lo + span * dz.start / 100;
    var hi = dz.endValue !== undefined ? dz.endValue * 1e9 : cx.lo + span * dz.end / 100;
    return [Math.round(lo), Math.round(hi)];
  }
  function zoomedIn(src) {
    if (syncing || !open) { return; }
    var r = rangeOf(src);
    setRange(r[0], r[1], src);
  }
  // setRange shows [lo, hi] (ns) on every panel: the linked time axis.
  function setRange(lo, hi, src) {
    if (!open) { return; }
    syncing = true;
    try {
      open.cx.charts.forEach(function (pc) {
        if (pc.chart !== src) { pc.chart.dispatchAction({type: "dataZoom", startValue: sec(lo), endValue: sec(hi)}); }
      });
    } finally { syncing = false; }
    update(lo, hi);
  }
  function closeConn() {
    opening++;
    if (!open) { return; }
    open.cx.charts.forEach(function (pc) { pc.chart.dispose(); });
    open = null;
  }
  tcpvizViews.add("flow", {open: openConn, close: closeConn});

  // For extensions and tests: the open connection and its linked zoom.
  window.tcpvizConn = {
    addPanel: function (p) { panels.push(p); },
    data: connData,
    zoom: function (loSec, hiSec) { setRange(Math.round(loSec * 1e9), Math.round(hiSec * 1e9), null); },
    state: function () { return open ? {flow: open.cx.c.flow, view: open.cx.view, detail: !!open.cx.state.tsgDetail, lastFrame: open.cx.lastFrame} : null; },
    charts: function () { return open ? open.cx.charts.map(function (pc) { return pc.chart; }) : []; }
  };

  // ---- clicks that lead to a connection -------------------------------------
  function flowOfChart(id, p) {
    var m = /^c_(?:cong|tsg|tput)_(\d+)$/.exec(id);
    if (m) { return m[1]; }
    if (id === "c_heatmap" && p.value) {
      var rows = (tcpvizTips["c_heatmap_rows"] || []);
      for (var i = 0; i < rows.length; i++) { if (rows[i][0] === p.value[1]) { return rows[i][1]; } }
    }
    if (id === "c_summary" && p.name) { return String(p.name).replace(/^#/, ""); }
    if (id === "c_timeline" && p.value) {
      var t = (tcpvizTips["c_timeline"] || [])[p.value[2]];
      if (t && t[2]) { return t[2]; }
    }
    return null;
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.addEventListener("click", function (e) {
      if (!e.target.closest) { return; }
      var tr = e.target.closest("tr[data-flow]");
      if (tr && !e.target.closest("a")) { go(tr.getAttribute("data-flow")); }
    });
    document.querySelectorAll("main [_echarts_instance_]").forEach(function (div) {
      var ch = echarts.getInstanceByDom(div);
      if (!ch) { return; }
      ch.on("click", function (p) { var f = flowOfChart(div.id, p); if (f) { go(f); } });
    });
    window.addEventListener("hashchange", route);
    if (isReport() && !location.hash && meta.land && meta.land.length) {
      history.replaceState(null, "", "#flow=" + meta.land[0]);
    }
    route();
  });
})();
