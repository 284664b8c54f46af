// compare.js: the compare views of report.html (data from viz/compare.go).
//
//   #compare=1,4  two to four connections overlaid on one axis of time since
//                 each connection's first packet (tcpvizData.overlay); picked
//                 with the checkboxes of the connections table.
//   #pair=N       connection N captured at two points (report --in A --in B):
//                 the time-sequence graph at the upstream capture with the
//                 segments the downstream capture never saw, and the one-way
//                 delay of every segment, on one linked time axis
//                 (tcpvizData.pairing).
//
// Both are views of connpage.js (tcpvizViews). Every string from a capture
// reaches the page as text (textContent) or through tcpvizEsc.
(function () {
  "use strict";
  var D = (typeof tcpvizData === "object" && tcpvizData) || {};
  var COLORS = ["#5470c6", "#ee6666", "#3ba272", "#fc8452"];
  var MAX = 4;
  var charts = [];

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function dispose() {
    charts.forEach(function (c) { c.dispose(); });
    charts = [];
  }
  function head(root, title) {
    var h = el("div", "cv-head");
    var back = el("a", "cv-back", "← back to the report");
    back.href = "#";
    h.appendChild(back);
    h.appendChild(el("h2", "", title));
    root.appendChild(h);
    return h;
  }
  function chartBox(root, id, height) {
    var div = el("div", "cv-chart");
    div.id = id;
    div.style.height = (height || 340) + "px";
    root.appendChild(div);
    var ch = echarts.init(div, null, {renderer: "canvas"});
    charts.push(ch);
    return ch;
  }
  var TOOLBOX = {feature: {dataZoom: {yAxisIndex: "none"}, restore: {}, dataView: {readOnly: true}, saveAsImage: {}}};
  function flowsOf(arg) {
    var out = [];
    String(arg).split(",").forEach(function (s) {
      var n = parseInt(s, 10);
      if (n > 0 && out.indexOf(n) < 0 && out.length < MAX) { out.push(n); }
    });
    return out;
  }
  function seriesMax(pts) {
    var m = 0;
    for (var i = 0; i < pts.length; i++) { if (pts[i][1] > m) { m = pts[i][1]; } }
    return m;
  }

  // ---- #compare=1,4 ---------------------------------------------------------
  function openCompare(arg, root) {
    var ov = D.overlay || {}, asked = flowsOf(arg);
    var flows = asked.filter(function (f) { return ov[f]; });
    var h = head(root, "Compare connections");
    h.appendChild(el("p", "note", "Highest sequence number each connection had sent (its data direction) against the time since its own first packet, so transfers that ran at different times start together."));
    var gone = asked.filter(function (f) { return !ov[f]; });
    if (gone.length) {
      h.appendChild(el("p", "missing", "Not in this report with time series: #" + gone.join(", #") + " (the report keeps series for the " +
        "connections it details; pick others in the table)."));
    }
    if (flows.length < 2) {
      root.appendChild(el("p", "missing", "Pick two to four connections: tick them in the connections table, then \"Compare\" (or open report.html#compare=1,4)."));
      return;
    }
    var tbl = el("table", "");
    tbl.id = "compare-table";
    var hr = el("tr", "");
    ["", "connection", "direction", "duration s", "highest sequence"].forEach(function (t) { hr.appendChild(el("th", "", t)); });
    var thead = el("thead", ""); thead.appendChild(hr); tbl.appendChild(thead);
    var body = el("tbody", "");
    var series = flows.map(function (f, i) {
      var o = ov[f], pts = o.seq || [];
      var tr = el("tr", "");
      tr.setAttribute("data-compare", String(f));
      var sw = el("td", "", "■"); sw.style.color = COLORS[i];
      tr.appendChild(sw);
      tr.appendChild(el("td", "", o.label));
      tr.appendChild(el("td", "", o.dir));
      var dur = el("td", "n", tcpvizSec(pts.length ? pts[pts.length - 1][0] : 0)); dur.setAttribute("data-k", "duration"); tr.appendChild(dur);
      var top = el("td", "n", tcpvizIEC(seriesMax(pts))); top.setAttribute("data-k", "seq"); top.setAttribute("data-v", String(seriesMax(pts))); tr.appendChild(top);
      body.appendChild(tr);
      return {name: o.label, type: "line", step: "end", showSymbol: false, data: pts, lineStyle: {width: 1.5, color: COLORS[i]},
        itemStyle: {color: COLORS[i]}, large: pts.length > 2000};
    });
    tbl.appendChild(body);
    var ch = chartBox(root, "cmp_seq", 420);
    ch.setOption({
      animation: false, color: COLORS, toolbox: TOOLBOX,
      title: {text: "Sequence progress", subtext: "highest relative sequence sent (bytes) against seconds since each connection's first packet", left: "left", textStyle: {fontSize: 14}},
      legend: {top: 44, left: 10, type: "plain"},
      grid: {left: 90, right: 60, top: 90, bottom: 70},
      tooltip: {trigger: "axis", axisPointer: {type: "cross"}, formatter: function (ps) {
        if (!ps || !ps.length) { return ""; }
        var s = "<b>" + tcpvizEsc(tcpvizSec(ps[0].axisValue)) + " s since start</b>";
        ps.forEach(function (p) { s += "<br>" + p.marker + tcpvizEsc(p.seriesName) + ": " + tcpvizEsc(tcpvizIEC(p.value[1])); });
        return s;
      }},
      xAxis: {type: "value", name: "s since start", min: 0, axisLabel: {formatter: function (v) { return tcpvizSec(v); }}},
      yAxis: {type: "value", name: "sequence", axisLabel: {formatter: function (v) { return tcpvizIEC(v); }}},
      dataZoom: [{type: "inside", xAxisIndex: 0, filterMode: "none"}, {type: "slider", xAxisIndex: 0, filterMode: "none"}],
      series: series
    });
    root.appendChild(tbl);
  }

  // ---- #pair=N ---------------------------------------------------------------
  function figureRow(d, k, v) {
    var td = el("td", "n", String(v));
    td.setAttribute("data-k", k);
    return td;
  }
  function openPair(arg, root) {
    var P = D.pairing, flow = parseInt(arg, 10);
    var c = P && P.conns ? P.conns[flow] : null;
    var h = head(root, "Two captures of connection " + (c ? c.label : "#" + flow));
    if (!P) { root.appendChild(el("p", "missing", "This report pairs no captures: tcpviz report --in A.pcapng --in B.pcapng.")); return; }
    h.appendChild(el("p", "note", "A = " + P.a + " · B = " + P.b));
    if (!c) {
      root.appendChild(el("p", "missing", "Connection #" + flow + " of A is not in both captures (paired: #" + Object.keys(P.conns).join(", #") + ")."));
      return;
    }
    var facts = ["matched by " + c.match, "B's flow #" + c.flow_b,
      (c.near_client === "a" ? "A" : "B") + " is nearer the client (" + (c.position === "handshake" ? "from the handshake" : "assumed: the first capture") + ")"];
    if (c.client_b) { facts.push("B saw " + c.client_b + " → " + c.server_b + " (NAT)"); }
    h.appendChild(el("p", "note", facts.join(" · ")));
    var note = el("p", "note", P.note); note.id = "pair-note"; h.appendChild(note);
    var tbl = el("table", "");
    tbl.id = "pair-figures";
    var hr = el("tr", "");
    ["direction", "data sent", "data lost", "ACKs sent", "ACKs lost", "only downstream", "delay min ms", "median ms", "p95 ms", "max ms"].forEach(function (t) { hr.appendChild(el("th", "", t)); });
    var thead = el("thead", ""); thead.appendChild(hr); tbl.appendChild(thead);
    var body = el("tbody", "");
    c.directions.forEach(function (d) {
      var tr = el("tr", "");
      tr.setAttribute("data-dir", d.dir);
      tr.appendChild(el("td", "", d.dir + " (" + d.from.toUpperCase() + " → " + (d.from === "a" ? "B" : "A") + ")"));
      tr.appendChild(figureRow(d, "data_sent", d.data_sent));
      tr.appendChild(figureRow(d, "data_lost", d.data_lost));
      tr.appendChild(figureRow(d, "acks_sent", d.acks_sent));
      tr.appendChild(figureRow(d, "acks_lost", d.acks_lost));
      tr.appendChild(figureRow(d, "only_downstream", d.only_downstream || 0));
      var dl = d.one_way_delay || {};
      tr.appendChild(figureRow(d, "min_ms", dl.samples ? dl.min_ms : "–"));
      tr.appendChild(figureRow(d, "p50_ms", dl.samples ? dl.p50_ms : "–"));
      tr.appendChild(figureRow(d, "p95_ms", dl.samples ? dl.p95_ms : "–"));
      tr.appendChild(figureRow(d, "max_ms", dl.samples ? dl.max_ms : "–"));
      body.appendChild(tr);
    });
    tbl.appendChild(body);
    root.appendChild(tbl);

    // The data direction: the one that sent more data segments.
    var di = c.directions[0].data_sent >= c.directions[1].data_sent ? 0 : 1;
    var dd = c.directions[di], dser = c.series[di];
    var lo = Infinity, hi = -Infinity;
    c.series.forEach(function (d) {
      [d.sent, d.lost, d.delay_pts, d.lost_acks].forEach(function (a) {
        a.forEach(function (it) { lo = Math.min(lo, it[0]); hi = Math.max(hi, it[0]); });
      });
    });
    if (!isFinite(lo)) { lo = 0; hi = 1; }
    if (hi <= lo) { hi = lo + 0.001; }
    var x = {type: "value", name: "s", min: lo, max: hi, axisLabel: {formatter: function (v) { return tcpvizSec(v); }}};
    var zoom = [{type: "inside", xAxisIndex: 0, filterMode: "none"}, {type: "slider", xAxisIndex: 0, filterMode: "none"}];
    // Series ids say what an item holds: "sent", "lost:X", "delay", "lostack:X"
    // (X the capture that saw the segment leave).
    function tip(p) {
      var it = p.data || [], k = String(p.seriesId || "").split(":");
      var s = "<b>" + tcpvizEsc(p.seriesName) + "</b><br>time: " + tcpvizEsc(tcpvizSec(it[0])) + " s";
      if (k[0] === "delay") { s += "<br>one-way delay: " + tcpvizEsc(tcpvizNum(it[1])) + " ms"; }
      if (k[0] === "sent" || k[0] === "lost") { s += "<br>seq " + tcpvizEsc(it[1]) + ", len " + tcpvizEsc(it[4]); }
      if (it[2]) { s += "<br>frame " + tcpvizEsc(it[2]) + " in A"; }
      if (k[0] === "lost") { s += "<br>frame " + tcpvizEsc(it[5]) + " in " + tcpvizEsc(k[1]); }
      if (k[0] === "lostack") { s += "<br>frame " + tcpvizEsc(it[4]) + " in " + tcpvizEsc(k[1]); }
      return s;
    }
    var up = dd.from.toUpperCase(), down = dd.from === "a" ? "B" : "A";
    var tsg = chartBox(root, "pair_tsg", 360);
    tsg.setOption({
      animation: false, toolbox: TOOLBOX,
      title: {text: "Time-sequence at " + up + " (" + dd.dir + ")", subtext: "segments " + up + " saw sent; marked: never seen at " + down + " (lost between the captures)", left: "left", textStyle: {fontSize: 14}},
      legend: {top: 44, left: 10}, grid: {left: 90, right: 60, top: 90, bottom: 70},
      tooltip: {trigger: "item", formatter: tip}, xAxis: x,
      yAxis: {type: "value", name: "relative sequence", scale: true, axisLabel: {formatter: function (v) { return tcpvizIEC(v); }}},
      dataZoom: zoom,
      series: [
        {id: "sent", name: "sent (" + up + " → " + down + ")", type: "scatter", symbol: "rect", symbolSize: 3, data: dser.sent, itemStyle: {color: "#5470c6"}, large: dser.sent.length > 2000},
        {id: "lost:" + up, name: "lost between the captures", type: "scatter", symbol: "path://M0,0L10,10M10,0L0,10", symbolSize: 9, data: dser.lost, itemStyle: {color: "#d62728", borderColor: "#d62728", borderWidth: 2}}
      ]
    });
    var delay = chartBox(root, "pair_delay", 320);
    var ds = [];
    c.directions.forEach(function (d, i) {
      var from = d.from.toUpperCase(), to = d.from === "a" ? "B" : "A", pts = c.series[i].delay_pts;
      ds.push({id: "delay:" + i, name: "one-way delay " + d.dir + " (" + from + " → " + to + ")", type: "scatter", symbolSize: 3, data: pts,
        itemStyle: {color: i === 0 ? "#5470c6" : "#3ba272"}, large: pts.length > 2000});
    });
    c.directions.forEach(function (d, i) {
      var la = c.series[i].lost_acks;
      if (la.length) {
        var from = d.from.toUpperCase(), to = d.from === "a" ? "B" : "A";
        ds.push({id: "lostack:" + from + ":" + d.dir, name: "ACK lost " + d.dir + " (" + from + " → " + to + ")", type: "scatter", symbol: "triangle", symbolSize: 8, data: la, itemStyle: {color: "#d62728"}});
      }
    });
    delay.setOption({
      animation: false, toolbox: TOOLBOX,
      title: {text: "One-way delay", subtext: "time at the downstream capture minus time at the upstream one (includes the clocks' offset)", left: "left", textStyle: {fontSize: 14}},
      legend: {top: 44, left: 10}, grid: {left: 90, right: 60, top: 90, bottom: 70},
      tooltip: {trigger: "item", formatter: tip}, xAxis: x,
      yAxis: {type: "value", name: "ms", scale: true, axisLabel: {formatter: function (v) { return tcpvizNum(v); }}},
      dataZoom: zoom, series: ds
    });
    // One time axis: zooming either chart zooms both.
    tsg.group = delay.group = "tcpviz-pair";
    echarts.connect("tcpviz-pair");
  }

  // ---- the connections table: pick connections to compare ------------------
  function addPickers() {
    var table = document.getElementById("connections");
    var ov = D.overlay || {};
    if (!table || !document.getElementById("view") || Object.keys(ov).length < 2) { return; }
    var th = el("th", "", "compare");
    th.title = "tick two to four connections, then Compare";
    table.tHead.rows[0].appendChild(th);
    var btn = el("button", "", "Compare ticked connections");
    btn.id = "compare-go";
    btn.disabled = true;
    function picked() {
      return Array.prototype.map.call(table.querySelectorAll("input.compare-pick:checked"), function (i) { return i.value; });
    }
    Array.prototype.forEach.call(table.tBodies[0].rows, function (tr) {
      var f = tr.getAttribute("data-flow"), td = el("td", "");
      td.setAttribute("data-v", "0");
      if (f && ov[f]) {
        var box = el("input", "compare-pick");
        box.type = "checkbox";
        box.value = f;
        box.title = "compare connection #" + f;
        box.addEventListener("change", function () {
          var p = picked();
          if (p.length > MAX) { box.checked = false; p = picked(); }
          td.setAttribute("data-v", box.checked ? "1" : "0");
          btn.disabled = p.length < 2;
        });
        td.appendChild(box);
      }
      // A tick is not a click on the row (which opens its page).
      td.addEventListener("click", function (e) { e.stopPropagation(); });
      tr.appendChild(td);
    });
    btn.addEventListener("click", function () { location.hash = "compare=" + picked().join(","); });
    table.parentNode.parentNode.insertBefore(btn, table.parentNode);
  }

  // ---- the connection page (#flow=N) of a paired connection -----------------
  // A panel on its linked time axis: the one-way delay of every segment in
  // both directions, and the segments lost between the captures (at 0 ms).
  function pairOf(flow) { var P = D.pairing; return P && P.conns ? P.conns[flow] : null; }
  function owdOption(cx) {
    var c = pairOf(cx.c.flow);
    var o = cx.base("One-way delay between the two captures", "downstream minus upstream time, includes the clocks' offset; ✕ sent, never seen downstream (drawn at 0 ms) · report.html#pair=" + cx.c.flow, "ms");
    if (!c) { return o; }
    o.tooltip.formatter = function (p) {
      var d = p.data || [], s = "<b>" + tcpvizEsc(p.seriesName) + "</b><br>";
      if (String(p.seriesId).indexOf("owd:") === 0) { s += "delay: " + tcpvizEsc(tcpvizNum(d[1])) + " ms<br>"; }
      else { s += "seq " + tcpvizEsc(d[4]) + ", len " + tcpvizEsc(d[5]) + "<br>"; }
      return s + "<b>frame</b>: " + tcpvizEsc(d[2] || "– (not in A)") + "<br><b>time</b>: " + tcpvizEsc(tcpvizSec(d[0])) + " s";
    };
    c.directions.forEach(function (d, i) {
      var from = d.from.toUpperCase(), to = d.from === "a" ? "B" : "A", pts = c.series[i].delay_pts;
      o.series.push({id: "owd:" + d.dir, name: d.dir + " " + from + " → " + to, type: "scatter", symbolSize: 3, data: pts,
        itemStyle: {color: i === 0 ? "#5470c6" : "#3ba272"}, large: pts.length > 2000});
    });
    c.directions.forEach(function (d, i) {
      var lost = c.series[i].lost;
      if (!lost.length) { return; }
      var from = d.from.toUpperCase(), to = d.from === "a" ? "B" : "A";
      o.series.push({id: "lost:" + d.dir, name: "lost " + d.dir + " " + from + " → " + to, type: "scatter", symbol: "path://M0,0L10,10M10,0L0,10", symbolSize: 9,
        itemStyle: {color: "#d62728", borderColor: "#d62728", borderWidth: 2},
        data: lost.map(function (it) { return [it[0], 0, it[2], it[3], it[1], it[4]]; })});
    });
    return o;
  }
  if (window.tcpvizConn) {
    tcpvizConn.addPanel({id: "cv_owd", title: "one-way delay", height: 280, order: 35,
      when: function (cx) { return !!pairOf(cx.c.flow); }, option: owdOption});
  }

  if (window.tcpvizViews) {
    tcpvizViews.add("compare", {open: openCompare, close: dispose});
    tcpvizViews.add("pair", {open: openPair, close: dispose});
  }
  document.addEventListener("DOMContentLoaded", addPickers);
})();
