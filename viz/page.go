package viz

import (
	"sort"

	"github.com/tcpviz/tcpviz/events"
)

func sortedKeys(m map[string]int) []string {
	ks := make([]string, 0, len(m))
	for k, v := range m {
		if !events.IsFinding(k) || v == 0 {
			continue
		}
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// pageHTML is the page layout. Everything from a capture reaches it through
// html/template (escaped by context); chart options are produced by
// go-echarts from labels that safeLabel has already restricted. The tooltip
// helper escapes the strings it takes from the tips table.
const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'nonce-{{.Nonce}}'; style-src 'unsafe-inline'; img-src data:">
<title>{{.Heading}}</title>
<style>
:root { --fg:#1d2433; --muted:#667085; --line:#e4e7ec; --bg:#f6f7f9; --card:#fff; --accent:#2f5bd3; --bad:#c62828; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--fg); background:var(--bg); }
header { background:#1d2433; color:#fff; padding:14px 28px; display:flex; align-items:baseline; gap:24px; flex-wrap:wrap; }
header h1 { font-size:19px; margin:0; font-weight:600; }
header .meta { color:#c0c6d4; font-size:12px; }
header nav a { color:#9ec1ff; margin-right:14px; font-size:13px; }
main { padding:18px 28px 40px; max-width:1500px; margin:0 auto; }
section { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:16px 18px; margin-bottom:18px; }
section h2 { font-size:16px; margin:0 0 4px; }
.note { color:var(--muted); font-size:12.5px; margin:0 0 10px; }
.cards { display:grid; grid-template-columns:repeat(auto-fit,minmax(150px,1fr)); gap:10px; margin:8px 0 14px; }
.card { border:1px solid var(--line); border-radius:6px; padding:10px 12px; background:#fbfcfd; }
.card .v { font-size:21px; font-weight:600; }
.card .k { color:var(--muted); font-size:12px; }
.card.bad .v { color:var(--bad); }
.headline { font-size:17px; font-weight:600; margin:4px 0 8px; }
.headline.bad { color:var(--bad); }
.chart { margin:8px 0 14px; }
.chart .container { display:block; }
.inferred { display:inline-block; background:#fff4e5; color:#8a4b00; border:1px solid #f5c37a; border-radius:4px; font-size:11.5px; padding:1px 7px; margin-bottom:2px; }
table { border-collapse:collapse; width:100%; font-size:12.5px; }
th, td { padding:5px 8px; border-bottom:1px solid var(--line); text-align:left; white-space:nowrap; }
td.n, th.n { text-align:right; font-variant-numeric:tabular-nums; }
th { background:#f2f4f7; cursor:pointer; user-select:none; position:sticky; top:0; }
th.sorted-asc::after { content:" ▲"; } th.sorted-desc::after { content:" ▼"; }
.tablewrap { max-height:560px; overflow:auto; border:1px solid var(--line); border-radius:6px; }
.missing { color:#8a4b00; font-size:12.5px; }
.two { display:grid; grid-template-columns:1fr 1fr; gap:18px; }
tr[data-flow] { cursor:pointer; } tr[data-flow]:hover td { background:#eef3ff; }
#view { display:none; }
body.in-view main > section { display:none; }
body.in-view main > section#view { display:block; }
.cv-head h2 { font-size:17px; margin:6px 0 2px; }
.cv-back { font-size:13px; }
.cv-filter code, .cv-status { font-family:ui-monospace,Menlo,Consolas,monospace; font-size:12.5px; }
.cv-filter code { background:#f2f4f7; padding:1px 5px; border-radius:4px; }
.cv-status { background:#f6f9ff; border:1px solid #d6e2ff; border-radius:6px; padding:5px 9px; margin:6px 0; user-select:all; }
.cv-panel { border-top:1px solid var(--line); padding-top:6px; margin-top:6px; }
.cv-tools { font-size:12.5px; color:var(--muted); margin-left:90px; }
.cv-note { margin-left:8px; }
.limitband { position:relative; height:15px; margin:-4px 90px 10px 160px; background:#f2f4f7; font-size:10px; line-height:15px; color:#fff; }
.limitband .span { position:absolute; top:0; bottom:0; overflow:hidden; white-space:nowrap; text-align:center; }
.limitband .bandlabel { position:absolute; right:100%; margin-right:8px; color:var(--muted); white-space:nowrap; }
@media (max-width:1000px) { .two { grid-template-columns:1fr; } }
</style>
<script nonce="{{.Nonce}}">{{.ECharts}}</script>
<script nonce="{{.Nonce}}">
"use strict";
var tcpvizTips = {{.Tips}};
// tcpvizData: the views' data (connection pages), see viz/connpage.go.
var tcpvizData = {{.Data}};
// Every time axis counts seconds from the capture's first packet (origin);
// origin_ns is a string because ns since the epoch exceed a JS number.
var tcpvizClock = {{.Clock}};
function tcpvizEsc(s) {
  return String(s).replace(/[&<>"']/g, function (c) {
    return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
  });
}
// Times are seconds from the first packet: six decimals (µs) in tooltips,
// as few as the axis step needs on axis labels.
function tcpvizSec(v) { return Number(v.toFixed(6)).toString(); }
function tcpvizNum(v) {
  if (typeof v !== "number" || !isFinite(v)) { return "–"; }
  var a = Math.abs(v);
  if (a >= 1e6) { return v.toExponential(3); }
  if (a >= 100) { return Math.round(v).toString(); }
  return Number(v.toPrecision(3)).toString();
}
// Sizes in IEC units, as everywhere in tcpviz.
function tcpvizIEC(v) {
  var u = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0, a = Math.abs(v);
  while (a >= 1024 && i < u.length - 1) { a /= 1024; v /= 1024; i++; }
  return (i === 0 ? Math.round(v) : Number(v.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : 2))) + " " + u[i];
}
function tcpvizAxisTip(ps) {
  if (!ps || !ps.length) { return ""; }
  var h = "<b>" + tcpvizEsc(tcpvizSec(ps[0].axisValue)) + " s</b>";
  for (var i = 0; i < ps.length; i++) {
    var v = ps[i].value;
    if (!v || v[1] === null || v[1] === undefined) { continue; }
    h += "<br>" + ps[i].marker + tcpvizEsc(ps[i].seriesName) + ": " + tcpvizEsc(tcpvizNum(v[1]));
  }
  return h;
}
function tcpvizTip(p) {
  var v = p.value || [], tips = tcpvizTips["c_timeline"] || [], t = tips[v[2]];
  var when = (t && t[13] !== undefined ? t[13] : tcpvizSec(v[0])) + " s";
  if (!t) { return tcpvizEsc(p.seriesName) + "<br>" + when; }
  var rows = [["type", t[0]], ["time", when], ["frame", t[1]], ["flow", t[2] + " " + t[3]], ["severity", t[4]]];
  if (t[5]) rows.push(["reason", t[5]]);
  if (t[6] || t[7]) rows.push(["seq / len", t[6] + " / " + t[7]]);
  if (t[8]) rows.push(["rtt ms", t[8]]);
  rows.push(["bytes in flight", t[9]]);
  if (t[10]) rows.push(["srtt ms (inferred)", t[10]]);
  if (t[11]) rows.push(["kernel cwnd", t[11]]);
  if (t[12]) rows.push(["kernel srtt us", t[12]]);
  var h = "";
  for (var i = 0; i < rows.length; i++) {
    h += "<b>" + tcpvizEsc(rows[i][0]) + "</b>: " + tcpvizEsc(rows[i][1]) + "<br>";
  }
  return h;
}
function tcpvizHeatTip(p) {
  var unit = p.seriesName;
  var v = p.value || [], c = (tcpvizTips["c_heatmap"] || [])[v[0]], rows = tcpvizTips["c_heatmap_rows"] || [], flow = "";
  for (var i = 0; i < rows.length; i++) { if (rows[i][0] === v[1]) { flow = rows[i][1]; } }
  var h = "<b>connection</b>: #" + tcpvizEsc(flow) + "<br>";
  if (c) { h += "<b>time</b>: " + tcpvizEsc((c[0] / 1e9).toFixed(6)) + " s to " + tcpvizEsc((c[1] / 1e9).toFixed(6)) + " s<br>"; }
  return h + "<b>" + tcpvizEsc(unit) + "</b>: " + tcpvizEsc(v[2]);
}
function tcpvizSort(th) {
  var table = th.closest("table"), body = table.tBodies[0], idx = th.cellIndex;
  var asc = !th.classList.contains("sorted-asc");
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.classList.remove("sorted-asc", "sorted-desc"); });
  th.classList.add(asc ? "sorted-asc" : "sorted-desc");
  var rows = Array.prototype.slice.call(body.rows);
  rows.sort(function (a, b) {
    var x = a.cells[idx].getAttribute("data-v"), y = b.cells[idx].getAttribute("data-v");
    var nx = parseFloat(x), ny = parseFloat(y), r;
    if (!isNaN(nx) && !isNaN(ny)) { r = nx - ny; } else { r = String(x).localeCompare(String(y)); }
    return asc ? r : -r;
  });
  rows.forEach(function (r) { body.appendChild(r); });
}
document.addEventListener("click", function (e) {
  var th = e.target.closest ? e.target.closest("th[data-sort]") : null;
  if (th) { tcpvizSort(th); }
});
window.addEventListener("resize", function () {
  document.querySelectorAll("[_echarts_instance_]").forEach(function (el) {
    var c = echarts.getInstanceByDom(el); if (c) { c.resize(); }
  });
});
</script>
<script nonce="{{.Nonce}}">{{.ConnJS}}</script>
</head>
<body>
<header>
  <h1>{{.Heading}}</h1>
  <span class="meta">{{if .Source}}source: {{.Source}} · {{end}}time 0 s = first packet, {{.Clock.Origin}} · generated {{.Generated}} · ECharts inlined, works offline</span>
  <nav>{{range .Links}}<a href="{{.}}">{{.}}</a>{{end}}</nav>
</header>
<main>
{{if .Report}}<section id="view"></section>{{end}}
{{with .R.NoMatch}}<section id="nomatch"><h2>Nothing selected</h2><p class="missing">{{.}}.</p></section>{{end}}
{{if .Overview}}{{with .R.Overview}}
<section id="headline">
  <h2>At a glance</h2>
  <p class="headline{{if .HeadlineBad}} bad{{end}}" id="story">{{.Headline}}</p>
  <div class="cards">
    <div class="card"><div class="v">{{.Packets}}</div><div class="k">TCP packets</div></div>
    <div class="card"><div class="v">{{bytes .Bytes}}</div><div class="k">payload</div></div>
    <div class="card"><div class="v">{{.Flows}}</div><div class="k">connections{{if .OtherFlows}} (+{{.OtherFlows}} untracked){{end}}</div></div>
    <div class="card"><div class="v">{{dur .Duration}}</div><div class="k">duration</div></div>
    <div class="card{{if and .Retrans .HeadlineBad}} bad{{end}}"><div class="v">{{.Retrans}}</div><div class="k">retransmissions ({{pct .RetransRate}} of packets)</div></div>
    <div class="card"><div class="v">{{.Events}}</div><div class="k">detector events</div></div>
    {{if .ZeroWindowFlows}}<div class="card bad" id="zero-window"><div class="v" data-v="{{.ZeroWindowMS}}">{{seconds .ZeroWindowMS}}</div><div class="k">on a zero receive window ({{.ZeroWindowFlows}} {{if eq .ZeroWindowFlows 1}}connection{{else}}connections{{end}})</div></div>{{end}}
    <div class="card"><div class="v">{{if .KernelSamples}}yes{{else}}no{{end}}</div><div class="k">kernel cwnd/srtt samples</div></div>
    {{with .KernelCheck}}<div class="card" id="kernel-check"><div class="v">{{.KernelSeen}} / {{.Kernel}}</div><div class="k">kernel-retransmitted segments seen on the wire; {{.Matched}} / {{.Inferred}} inferred segments confirmed</div></div>{{end}}
  </div>
  {{with .KernelCheck}}<p id="kernel-scorecard">Kernel check: {{.String}}</p>{{end}}
  {{with .Limits}}
  <div id="limits-verdict">
    <h2>Why was it slow?</h2>
    <ul class="verdicts">
    {{range .}}<li><b>#{{.Flow}}</b> {{.Client}} → {{.Server}} ({{.Dir}}): {{.Line}}</li>
    {{end}}</ul>
    {{with $.R.Overview.LimitsCheck}}<p class="note">Limits check: {{.}}.</p>{{end}}
  </div>
  {{end}}
  <div class="two">
  <div>
    <h2>Events by type</h2>
    <table><thead><tr><th data-sort>type</th><th data-sort class="n">count</th></tr></thead><tbody>
    {{range .EventCounts}}<tr><td data-v="{{.Name}}">{{.Name}}</td><td class="n" data-v="{{.Count}}">{{.Count}}</td></tr>
    {{else}}<tr><td colspan="2">no detector events</td></tr>{{end}}
    </tbody></table>
  </div>
  <div>
    <h2>Worst connections</h2>
    <table id="worst"><thead><tr><th data-sort>flow</th><th data-sort>endpoints</th><th>problem</th><th data-sort class="n">retrans</th><th data-sort class="n">bytes</th></tr></thead><tbody>
    {{range .Worst}}<tr data-flow="{{.Flow}}"><td data-v="{{.Flow}}"><a href="{{$.FlowHref}}#flow={{.Flow}}">#{{.Flow}}</a></td><td data-v="{{.Client}}">{{.Client}} → {{.Server}}</td><td>{{.Problem.Reason}}</td><td class="n" data-v="{{.Retrans}}">{{.Retrans}}</td><td class="n" data-v="{{add .BytesC2S .BytesS2C}}">{{bytes .BytesC2S}} / {{bytes .BytesS2C}}</td></tr>
    {{else}}<tr><td colspan="5">no connection failed, stalled or raised a detector event</td></tr>{{end}}
    </tbody></table>
  </div>
  </div>
  {{with $.R.Processes}}
  <h2 style="margin-top:14px">Processes</h2>
  <table><thead><tr><th data-sort class="n">pid</th><th data-sort>comm</th><th data-sort class="n">connections</th><th data-sort class="n">bytes</th><th data-sort class="n">retransmissions</th></tr></thead><tbody>
  {{range .}}<tr><td class="n" data-v="{{.PID}}">{{.PID}}</td><td data-v="{{.Comm}}">{{.Comm}}</td><td class="n" data-v="{{.Flows}}">{{.Flows}}</td><td class="n" data-v="{{.Bytes}}">{{bytes .Bytes}}</td><td class="n" data-v="{{.Retrans}}">{{.Retrans}}</td></tr>
  {{end}}</tbody></table>
  {{end}}
  {{with $.Missing}}<p class="missing">Not drawn: {{range $i, $m := .}}{{if $i}}; {{end}}{{$m}}{{end}}</p>{{end}}
</section>
{{end}}{{end}}
{{if and .Report .R.PairNote}}
<section id="pairing">
  <h2>Two captures paired</h2>
  <p class="note">Capture A is this report's; B is the other capture of the same connections. Per direction: segments the upstream capture saw sent and of them those the downstream capture never saw (lost between the two points), and the one-way delay. Note: {{.R.PairNote}}. Click a connection for its time-sequence with the losses marked and its delay over time.</p>
  {{with .R.PairOnlyA}}<p class="note">Only in A: {{range $i, $f := .}}{{if $i}}, {{end}}#{{$f}}{{end}}.</p>{{end}}
  {{with .R.PairOnlyB}}<p class="note">Only in B (B's flow ids): {{range $i, $f := .}}{{if $i}}, {{end}}#{{$f}}{{end}}.</p>{{end}}
  <div class="tablewrap"><table id="pairs"><thead><tr>
    <th data-sort class="n">flow A</th><th data-sort class="n">flow B</th><th data-sort>connection (A)</th><th data-sort>matched by</th><th data-sort>near the client</th>
    <th data-sort>direction</th><th data-sort class="n">data sent</th><th data-sort class="n">data lost</th><th data-sort class="n">ACKs sent</th><th data-sort class="n">ACKs lost</th>
    <th data-sort class="n">delay min ms</th><th data-sort class="n">median ms</th><th data-sort class="n">p95 ms</th><th data-sort class="n">max ms</th></tr></thead><tbody>
  {{range $p := .R.Pairs}}{{range .Dirs}}<tr data-pair="{{$p.FlowA}}" data-dir="{{.Dir}}">
    <td class="n" data-v="{{$p.FlowA}}"><a href="#pair={{$p.FlowA}}">{{$p.FlowA}}</a></td><td class="n" data-v="{{$p.FlowB}}">{{$p.FlowB}}</td>
    <td data-v="{{$p.Client}}">{{$p.Client}} → {{$p.Server}}</td><td data-v="{{$p.Match}}">{{$p.Match}}</td><td data-v="{{$p.Near}}">{{$p.Near}}</td>
    <td data-v="{{.Dir}}">{{.Dir}} ({{upper .From}} →)</td>
    <td class="n" data-k="data_sent" data-v="{{.DataSent}}">{{.DataSent}}</td><td class="n" data-k="data_lost" data-v="{{.DataLost}}">{{.DataLost}}</td>
    <td class="n" data-k="acks_sent" data-v="{{.ACKsSent}}">{{.ACKsSent}}</td><td class="n" data-k="acks_lost" data-v="{{.ACKsLost}}">{{.ACKsLost}}</td>
    <td class="n" data-k="min_ms" data-v="{{.Delay.MinMS}}">{{.Delay.MinMS}}</td><td class="n" data-k="p50_ms" data-v="{{.Delay.P50MS}}">{{.Delay.P50MS}}</td>
    <td class="n" data-k="p95_ms" data-v="{{.Delay.P95MS}}">{{.Delay.P95MS}}</td><td class="n" data-k="max_ms" data-v="{{.Delay.MaxMS}}">{{.Delay.MaxMS}}</td></tr>
  {{end}}{{else}}<tr><td colspan="14">no connection is in both captures</td></tr>{{end}}
  </tbody></table></div>
</section>
{{end}}
{{range .Sections}}
<section id="{{.ID}}">
  <h2>{{.Title}}</h2>
  {{with .Note}}<p class="note">{{.}}</p>{{end}}
  {{range $ch := .Charts}}<div class="chart" data-chart="{{.ID}}">{{if .Inferred}}<span class="inferred">INFERRED from packets — not kernel state</span>{{end}}
  {{.Element}}
  {{.Script}}
  {{with .Band}}<div class="limitband" data-band="{{$ch.ID}}" title="what limited the sender: the dominant limit of each window where it changed"><span class="bandlabel">{{.Label}}</span>{{range .Spans}}<span class="span" style="{{spanStyle .}}" title="{{.Title}}">{{.Name}}</span>{{end}}</div>{{end}}
  </div>{{end}}
  {{if .Table}}
  {{if ne .Title "Connections"}}<h2 style="margin-top:10px">Connections</h2>{{end}}
  <div class="tablewrap"><table id="connections"><thead><tr>
    <th data-sort class="n">flow</th><th data-sort class="n">pid</th><th data-sort>comm</th><th data-sort>client</th><th data-sort>server</th>
    <th data-sort class="n">bytes c→s</th><th data-sort class="n">bytes s→c</th><th data-sort class="n">duration ms</th>
    <th data-sort class="n">retrans</th><th data-sort class="n">rtt min</th><th data-sort class="n">rtt avg</th><th data-sort class="n">rtt max</th>
    <th data-sort class="n">handshake ms</th><th data-sort class="n">zero window</th><th data-sort>state</th><th data-sort>events</th></tr></thead><tbody>
  {{range $.R.Conns}}<tr data-flow="{{.Flow}}">
    <td class="n" data-v="{{.Flow}}"><a href="{{$.FlowHref}}#flow={{.Flow}}">{{.Flow}}</a></td><td class="n" data-v="{{.PID}}">{{if .PID}}{{.PID}}{{end}}</td><td data-v="{{.Comm}}">{{.Comm}}</td>
    <td data-v="{{.Client}}">{{.Client}}</td><td data-v="{{.Server}}">{{.Server}}</td>
    <td class="n" data-v="{{.BytesC2S}}">{{bytes .BytesC2S}}</td><td class="n" data-v="{{.BytesS2C}}">{{bytes .BytesS2C}}</td>
    <td class="n" data-v="{{.DurationMS}}">{{printf "%.1f" .DurationMS}}</td><td class="n" data-v="{{.Retrans}}">{{.Retrans}}</td>
    <td class="n" data-v="{{.RTTMin}}">{{ms .RTTMin}}</td><td class="n" data-v="{{.RTTAvg}}">{{ms .RTTAvg}}</td><td class="n" data-v="{{.RTTMax}}">{{ms .RTTMax}}</td>
    <td class="n" data-v="{{.HandshakeRTT}}">{{ms .HandshakeRTT}}</td><td class="n" data-v="{{.ZeroWindowMS}}">{{zerowin .ZeroWindowMS .ZeroWindowShare}}</td><td data-v="{{.State}}">{{state .State}}</td><td>{{evlist .Events}}</td></tr>
  {{else}}<tr><td colspan="16">no connections</td></tr>{{end}}
  </tbody></table></div>
  {{end}}
</section>
{{end}}
</main>
</body>
</html>
`
