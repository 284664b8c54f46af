package viz

// The connection pages: report.html#flow=N shows one connection on one
// linked time axis (time-sequence, congestion, RTT, throughput, events and
// limits). Go writes each detailed connection's packets and events as
// compact columns (tcpvizData.conns, see appendConn; gzip'd and base64'd);
// viz/assets/connpage.js
// draws them, choosing buckets or single segments as the view is zoomed.

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"sort"
	"strconv"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/conntable"
)

// DefaultDetailConns is how many connections get a connection page with
// every segment when Options.DetailConns is 0: the worst ones (the ranking
// of every output, events.ComparePriority, then most bytes). Connections named in Options.Flows always get
// one.
const DefaultDetailConns = 4

// detailed picks the connections whose pages carry every segment.
func (b *builder) detailed() []conntable.Row {
	s := b.opts.Segments
	if s == nil {
		return nil
	}
	n := b.opts.DetailConns
	if n == 0 {
		n = DefaultDetailConns
	}
	want := map[uint64]bool{}
	for _, id := range b.opts.Flows {
		want[id] = true
	}
	var out, rest []conntable.Row
	for _, row := range b.conns {
		if !s.has(row.Flow) {
			continue
		}
		if want[row.Flow] {
			out = append(out, row)
		} else if row.Bytes() > 0 || findingsOf(&row) > 0 {
			rest = append(rest, row)
		}
	}
	sort.SliceStable(rest, func(i, j int) bool {
		if c := events.ComparePriority(rest[i].Problem, rest[j].Problem); c != 0 {
			return c < 0
		}
		return rest[i].Bytes() > rest[j].Bytes()
	})
	// A connection that came back after it left the table has a row per
	// line of flows.jsonl; its page, like its charts, covers all of them.
	out, rest = onePerFlow(out), onePerFlow(rest)
	if n > 0 {
		out = append(out, rest[:min(n, len(rest))]...)
	}
	return out
}

// onePerFlow keeps the first row of each connection id, in order.
func onePerFlow(rows []conntable.Row) []conntable.Row {
	seen := make(map[uint64]bool, len(rows))
	out := rows[:0]
	for _, r := range rows {
		if !seen[r.Flow] {
			seen[r.Flow] = true
			out = append(out, r)
		}
	}
	return out
}

// connPages writes the connection pages' data into the report.
func (b *builder) connPages() {
	rows := b.detailed()
	buf := make([]byte, 0, 1<<16)
	buf = append(buf, '{')
	var js []byte
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed) // a valid level: no error
	for i, row := range rows {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, '"')
		buf = strconv.AppendUint(buf, row.Flow, 10)
		buf = append(buf, `":"`...)
		// Each connection's JSON is gzip'd and base64'd: the columns of
		// small numbers shrink several times, and the page inflates one
		// connection when it is opened (DecompressionStream).
		js = b.appendConn(js[:0], row, b.opts.Segments.conns[row.Flow])
		gz.Reset()
		zw.Reset(&gz)
		zw.Write(js) //nolint:errcheck // a bytes.Buffer does not fail
		zw.Close()   //nolint:errcheck
		buf = base64.StdEncoding.AppendEncode(buf, gz.Bytes())
		buf = append(buf, '"')
		b.r.Detailed = append(b.r.Detailed, row.Flow)
	}
	buf = append(buf, '}')
	b.r.SetData("conns", buf)
	// Every connection of the table, for the page of one without detail.
	list := make([]connSummaryJSON, 0, len(b.conns))
	for _, r := range b.conns {
		list = append(list, connSummaryJSON{Flow: r.Flow, Label: connLabel(r), Client: r.Client, Server: r.Server,
			Comm: r.Comm, PID: r.PID, Packets: r.Packets(), BytesC2S: r.BytesC2S(), BytesS2C: r.BytesS2C(),
			DurationMS: r.DurationMS, Retrans: r.Retrans, Limit: r.Limit(), Stream: tsharkStream(r.Flow)})
	}
	js, _ = json.Marshal(list) // plain values: cannot fail
	b.r.SetData("connList", js)
	meta, _ := json.Marshal(pageMeta{File: b.opts.CaptureFile, Land: b.opts.Flows, LimitNames: events.LimitNames[:],
		KindColor: kindColor})
	b.r.SetData("meta", meta)
}

// pageMeta is what every view needs: the capture's path (for the wireshark
// command), the connections to open first (--flow) and the limit names.
type pageMeta struct {
	File       string            `json:"file"`
	Land       []uint64          `json:"land,omitempty"`
	LimitNames []string          `json:"limit_names"`
	KindColor  map[string]string `json:"kind_color"` // event type colours, as on the report's charts
}

type connSummaryJSON struct {
	Flow       uint64  `json:"flow"`
	Label      string  `json:"label"`
	Client     string  `json:"client"`
	Server     string  `json:"server"`
	Comm       string  `json:"comm,omitempty"`
	PID        uint32  `json:"pid,omitempty"`
	Packets    uint64  `json:"packets"`
	BytesC2S   uint64  `json:"bytes_c2s"`
	BytesS2C   uint64  `json:"bytes_s2c"`
	DurationMS float64 `json:"ms"`
	Retrans    int     `json:"retrans"`
	Limit      string  `json:"limit,omitempty"`
	Stream     uint64  `json:"stream"`
}

// tsharkStream is Wireshark's tcp.stream of a connection: connections are
// numbered the same way, in order of first appearance, from 0 there and
// from 1 here (docs/events.md says when they differ: tunnels).
func tsharkStream(flow uint64) uint64 {
	if flow == 0 {
		return 0
	}
	return flow - 1
}

// appendConn writes one connection's page data. Columns are delta-encoded
// integers (each value is the previous plus the number written), times in
// ns from the capture's first packet; see decodeConn in connpage.js.
func (b *builder) appendConn(buf []byte, row conntable.Row, c *segConn) []byte {
	dir := events.DirC2S
	if row.BytesS2C() > row.BytesC2S() {
		dir = events.DirS2C
	}
	origin := b.c.first
	if origin == 0 && c.pkts.n > 0 {
		origin = c.pkts.first().TS
	}
	// Times in µs when the capture's resolution allows (most do): three
	// digits less per packet.
	unit := int64(1000)
	mss := uint32(0)
	for p := range c.pkts.all() {
		if (p.TS-origin)%1000 != 0 {
			unit = 1
		}
		if p.Dir == dir && p.Len > mss {
			mss = p.Len
		}
	}
	var sack []int64
	si := 0
	for p := range c.pkts.all() {
		for k := 0; k < int(p.SACK); k++ {
			s := c.sack[si+k]
			// Blocks as offsets from this packet's ACK: small numbers.
			sack = append(sack, int64(int32(s.Left-p.Ack)), int64(int32(s.Right-p.Ack)))
		}
		si += int(p.SACK)
	}
	// Events: frame, time, type:kind code and the frame they refer back to.
	codes := map[string]int{}
	var codeList []string
	var et, ef, er, ec []int64
	var rt, rf, rv []int64
	var kt, kf []int64
	var kcols [10][]int64
	for e := range c.evs.all() {
		switch {
		case e.Type == events.TypeRTTSample:
			if e.Dir == dir {
				rt, rf, rv = append(rt, e.TS-origin), append(rf, int64(e.Frame)), append(rv, int64(e.RTTms*1000+0.5))
			}
			continue
		case e.Kern != nil:
			k := e.Kern
			if k.MSS > 0 {
				mss = k.MSS
			}
			kt, kf = append(kt, e.TS-origin), append(kf, int64(e.Frame))
			ssth := int64(k.Ssthresh)
			if k.Ssthresh >= 0x7fffffff {
				ssth = -1 // "infinite" before the first loss
			}
			vals := [10]int64{int64(k.Cwnd), ssth, int64(k.SRTTus), int64(k.MinRTTus), int64(k.PacketsOut),
				int64(k.SndWnd), int64(k.CAState), int64(k.DeliveryBps), int64(k.PacingBps), int64(e.Dir)}
			for j, v := range vals {
				kcols[j] = append(kcols[j], v)
			}
			continue
		}
		key := e.Type
		if e.Kind != "" {
			key += ":" + e.Kind
		}
		code, ok := codes[key]
		if !ok {
			code = len(codeList)
			codes[key] = code
			codeList = append(codeList, key)
		}
		et, ef, er, ec = append(et, e.TS-origin), append(ef, int64(e.Frame)), append(er, int64(e.RefFrame)), append(ec, int64(code))
	}
	if mss == 0 {
		mss = 1448
	}
	w := jsonWriter{buf}
	w.raw("{")
	w.key("flow").uint(row.Flow)
	w.key("label").str(connLabel(row))
	w.key("client").str(row.Client)
	w.key("server").str(row.Server)
	w.key("comm").str(row.Comm)
	w.key("pid").uint(uint64(row.PID))
	w.key("stream").uint(tsharkStream(row.Flow))
	w.key("dir").uint(uint64(dir))
	w.key("mss").uint(uint64(mss))
	w.key("lost_packets").uint(c.lostPkts)
	w.key("lost_events").uint(c.lostEvs)
	w.key("tu").uint(uint64(unit))
	w.key("p").raw("{")
	pk := &c.pkts
	w.pcol("t", pk, deltaAll, func(p *segPacket) int64 { return (p.TS - origin) / unit })
	w.pcol("f", pk, deltaAll, func(p *segPacket) int64 { return int64(p.Frame) })
	// Flags, direction and SACK block count in one number.
	w.pcol("g", pk, deltaNone, func(p *segPacket) int64 {
		return int64(p.Flags&flagBits) | int64(p.Dir)<<dirShift | int64(p.SACK)<<sackShift
	})
	var seqU, ackU [2]unwrapper
	w.pcol("s", pk, deltaDir, func(p *segPacket) int64 { return int64(seqU[p.Dir].extend(p.Seq)) })
	w.pcol("a", pk, deltaDir, func(p *segPacket) int64 { return int64(ackU[p.Dir].extend(p.Ack)) })
	w.pcol("l", pk, deltaDir, func(p *segPacket) int64 { return int64(p.Len) })
	w.pcol("w", pk, deltaDir, func(p *segPacket) int64 { return p.Win })
	w.buf = w.buf[:len(w.buf)-1] // the last comma
	w.raw("},")
	w.key("sack").ints(sack, false)
	w.key("codes").strs(codeList)
	w.key("ev").raw("{")
	w.col("t", et, true).col("f", ef, true).col("r", er, false).col("c", ec, false)
	w.buf = w.buf[:len(w.buf)-1]
	w.raw("},")
	w.key("rtt").raw("{")
	w.col("t", rt, true).col("f", rf, true).col("v", rv, false)
	w.buf = w.buf[:len(w.buf)-1]
	w.raw("},")
	w.key("kern").raw("{")
	w.col("t", kt, true).col("f", kf, true)
	for j, name := range []string{"cwnd", "ssthresh", "srtt_us", "min_rtt_us", "packets_out", "snd_wnd", "ca_state", "delivery_bps", "pacing_bps", "dir"} {
		w.col(name, kcols[j], false)
	}
	w.buf = w.buf[:len(w.buf)-1]
	w.raw("},")
	w.key("limits")
	b.appendLimits(&w, row, dir, origin, c)
	w.buf = w.buf[:len(w.buf)-1]
	w.raw("}")
	return w.buf
}

// limitSpan is a stretch of time with the limit that held the sender back.
type limitSpan struct {
	from, to int64 // ns since the epoch
	limit    int   // index in events.LimitNames
	frame    uint64
}

// limitSpans is the "what limited it" band of a connection's direction d
// over [first, last]: the first span runs to the first limit_change with the
// limit the change left, then each change's limit runs to the next. Without
// changes the connection's dominant limit covers it all. src is "kernel" or
// "packets"; no spans when the limits were not analysed.
func (b *builder) limitSpans(row conntable.Row, d events.Dir, first, last int64) (src string, spans []limitSpan) {
	idx := func(name string) int {
		for i, n := range events.LimitNames {
			if n == name {
				return i
			}
		}
		return -1
	}
	add := func(from, to int64, name string, frame uint64) {
		if i := idx(name); i >= 0 && to > from {
			spans = append(spans, limitSpan{from, to, i, frame})
		}
	}
	var changes []segEvent
	if s := b.opts.Segments; s != nil && s.conns[row.Flow] != nil {
		for e := range s.conns[row.Flow].evs.all() {
			if e.Limit != nil && e.Dir == d {
				changes = append(changes, *e)
			}
		}
	}
	if len(changes) > 0 {
		src = changes[0].Limit.Source
		at := first
		for i, e := range changes {
			start := min(max(int64(e.Limit.Start), first), last)
			if i == 0 {
				add(at, start, e.Limit.From, e.Frame)
			}
			next := last
			if i+1 < len(changes) {
				next = min(max(int64(changes[i+1].Limit.Start), first), last)
			}
			add(max(start, at), next, e.Limit.To, e.Frame)
			at = max(next, at)
		}
		return src, spans
	}
	if dl := b.flowLimits[row.Flow].Dir(d); dl != nil && dl.Dominant != "" {
		add(first, last, dl.Dominant, 0)
		return dl.Source, spans
	}
	return "", nil
}

// appendLimits writes the band of the data direction as
// [start, end, limit index, frame] in ns from the origin.
func (b *builder) appendLimits(w *jsonWriter, row conntable.Row, dir events.Dir, origin int64, c *segConn) {
	first, last := int64(0), int64(0)
	if c.pkts.n > 0 {
		first, last = c.pkts.first().TS, c.pkts.last().TS
	}
	src, spans := b.limitSpans(row, dir, first, last)
	w.raw("{")
	w.key("source").str(src)
	w.key("spans").raw("[")
	for i, s := range spans {
		if i > 0 {
			w.raw(",")
		}
		w.raw("[")
		w.buf = strconv.AppendInt(w.buf, s.from-origin, 10)
		w.raw(",")
		w.buf = strconv.AppendInt(w.buf, s.to-origin, 10)
		w.raw(",")
		w.buf = strconv.AppendInt(w.buf, int64(s.limit), 10)
		w.raw(",")
		w.buf = strconv.AppendUint(w.buf, s.frame, 10)
		w.raw("]")
	}
	w.raw("]},")
}

// jsonWriter appends the compact JSON of the connection pages. Strings go
// through encoding/json, which escapes <, > and & so nothing in them can end
// the page's script element.
type jsonWriter struct{ buf []byte }

func (w *jsonWriter) raw(s string) *jsonWriter { w.buf = append(w.buf, s...); return w }

func (w *jsonWriter) key(k string) *jsonWriter {
	w.buf = append(w.buf, '"')
	w.buf = append(w.buf, k...)
	w.buf = append(w.buf, `":`...)
	return w
}

func (w *jsonWriter) str(s string) *jsonWriter {
	b, _ := json.Marshal(s) // a string always marshals
	w.buf = append(w.buf, b...)
	w.buf = append(w.buf, ',')
	return w
}

func (w *jsonWriter) strs(ss []string) *jsonWriter {
	if ss == nil {
		ss = []string{}
	}
	b, _ := json.Marshal(ss)
	w.buf = append(w.buf, b...)
	w.buf = append(w.buf, ',')
	return w
}

func (w *jsonWriter) uint(v uint64) *jsonWriter {
	w.buf = strconv.AppendUint(w.buf, v, 10)
	w.buf = append(w.buf, ',')
	return w
}

// ints writes [v0, v1-v0, v2-v1, ...] when delta is set, the plain values
// otherwise.
func (w *jsonWriter) ints(vs []int64, delta bool) *jsonWriter {
	w.buf = append(w.buf, '[')
	prev := int64(0)
	for i, v := range vs {
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		if delta {
			w.buf = strconv.AppendInt(w.buf, v-prev, 10)
			prev = v
		} else {
			w.buf = strconv.AppendInt(w.buf, v, 10)
		}
	}
	w.buf = append(w.buf, "],"...)
	return w
}

// Packet columns: how pcol encodes a value.
const (
	deltaNone = iota // the value itself
	deltaAll         // the difference from the previous packet's
	deltaDir         // the difference from the previous packet's of the same direction
)

// The "g" column: TCP flags (9 bits), direction, SACK blocks.
const (
	flagBits  = 0x1ff
	dirShift  = 9
	sackShift = 10
)

// pcol writes one packet column.
func (w *jsonWriter) pcol(name string, pk *chunks[segPacket], mode int, val func(*segPacket) int64) {
	w.key(name)
	w.buf = append(w.buf, '[')
	var prev [2]int64
	i := 0
	for p := range pk.all() {
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		i++
		v := val(p)
		switch mode {
		case deltaAll:
			w.buf = strconv.AppendInt(w.buf, v-prev[0], 10)
			prev[0] = v
		case deltaDir:
			w.buf = strconv.AppendInt(w.buf, v-prev[p.Dir&1], 10)
			prev[p.Dir&1] = v
		default:
			w.buf = strconv.AppendInt(w.buf, v, 10)
		}
	}
	w.buf = append(w.buf, "],"...)
}

func (w *jsonWriter) col(name string, vs []int64, delta bool) *jsonWriter {
	return w.key(name).ints(vs, delta)
}
