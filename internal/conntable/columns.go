package conntable

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/textsafe"
)

// column is one figure of a connection, defined once for every table that
// shows it: its text header, width and cell, and its CSV/JSON name and
// value. A view (View) picks the columns a table shows by key.
type column struct {
	key   string // CSV header and JSON field; what views name
	head  string // text header; "" when the text table cannot show it
	width int    // text width, negative: left-aligned
	wide  int    // text width with Options.Wide (0: width)
	// show, when set, says whether the text table shows the column with
	// these options (the flows flags --clock, --seconds, --wide).
	show  func(o *Options) bool
	text  func(r *Row, o *Options) string
	color func(r *Row) string
	// value is the CSV/JSON value (nil: text only); csv, when set, writes the
	// CSV cell instead of the value's plain form.
	value func(r *Row, o *Options) any
	csv   func(r *Row, o *Options) string
}

func (c *column) textWidth(o *Options) int {
	if o.Wide && c.wide != 0 {
		return c.wide
	}
	return c.width
}

// A View is the columns a table shows, by key: Text for the text table,
// Fields for CSV (its header) and JSON (an object's fields, in order).
type View struct {
	Text   []string
	Fields []string
}

// FlowsView is the tcpviz flows (and analyze) table: tcplife's columns and
// what a capture adds.
var FlowsView = View{
	Text: []string{"clock", "time_s", "pid", "comm", "ip", "laddr", "lport", "raddr", "rport", "tx_kib", "rx_kib",
		"ms", "retrans", "rtt_ms", "limit", "zero_window", "state", "state_text", "history"},
	Fields: []string{"flow", "start", "end", "time_s", "pid", "comm", "laddr", "lport", "raddr", "rport",
		"tx_kib", "rx_kib", "ms", "tx_bytes", "rx_bytes", "tx_wire_bytes", "rx_wire_bytes", "tx_packets", "rx_packets",
		"retrans", "retrans_bytes", "rtt_ms", "zero_window_ms", "zero_window_share", "state", "state_text", "history",
		"local_is_server", "limit", "limit_share", "limit_source", "why"},
}

// SummaryView is the connections table of tcpviz summary: client and server
// instead of local and remote, the record's RTT figures and event counts.
var SummaryView = View{
	Text: []string{"flow", "pid", "comm", "client", "server", "c2s_kib", "s2c_kib", "ms", "retrans", "rtt_ms",
		"state", "state_text", "limit", "zero_window"},
	Fields: []string{"flow", "pid", "comm", "client", "server", "bytes_c2s", "bytes_s2c", "packets",
		"ms", "retrans", "retrans_bytes", "rtt_min_ms", "rtt_avg_ms", "rtt_max_ms", "handshake_rtt_ms",
		"zero_window_ms", "zero_window_share", "state", "state_text", "ended", "events",
		"limit", "limit_share", "limit_source"},
}

// CSVHeader is the first line of flows --csv output; the JSON fields have
// the same names.
var CSVHeader = FlowsView.Fields

// columns is every column, by key.
var columns = map[string]*column{}

func init() {
	u := func(f func(r *Row) uint64) func(*Row, *Options) any {
		return func(r *Row, _ *Options) any { return f(r) }
	}
	num := func(f func(r *Row) float64) func(*Row, *Options) any {
		return func(r *Row, _ *Options) any { return f(r) }
	}
	str := func(f func(r *Row) string) func(*Row, *Options) any {
		return func(r *Row, _ *Options) any { return f(r) }
	}
	kib := func(f func(r *Row) uint64) func(*Row, *Options) string {
		return func(r *Row, _ *Options) string { return strconv.FormatUint(f(r)>>10, 10) }
	}
	endpoint := func(f func(r *Row) string) func(*Row, *Options) string {
		return func(r *Row, _ *Options) string { return textsafe.Printable(f(r)) }
	}
	for _, c := range []column{
		{key: "flow", head: "FLOW", width: -5,
			text:  func(r *Row, _ *Options) string { return strconv.FormatUint(r.Flow, 10) },
			value: u(func(r *Row) uint64 { return r.Flow })},
		{key: "start", value: func(r *Row, _ *Options) any { return events.Timestamp(r.Start) }},
		{key: "end", value: func(r *Row, _ *Options) any { return events.Timestamp(r.End) }},
		{key: "clock", head: "TIME", width: -8, show: func(o *Options) bool { return o.Clock },
			text: func(r *Row, o *Options) string { return time.Unix(0, r.Start).In(o.Location).Format("15:04:05") }},
		{key: "time_s", head: "TIME(s)", width: -9, show: func(o *Options) bool { return o.Seconds },
			text:  func(r *Row, o *Options) string { return strconv.FormatFloat(sinceOrigin(r, o), 'f', 3, 64) },
			value: func(r *Row, o *Options) any { return sinceOrigin(r, o) },
			csv:   func(r *Row, o *Options) string { return strconv.FormatFloat(sinceOrigin(r, o), 'f', 6, 64) }},
		{key: "pid", head: "PID", width: -7,
			text: func(r *Row, _ *Options) string {
				if r.PID == 0 {
					return "-"
				}
				return strconv.FormatUint(uint64(r.PID), 10)
			},
			value: func(r *Row, _ *Options) any { // null when unknown
				if r.PID == 0 {
					return (*uint32)(nil)
				}
				return r.PID
			}},
		{key: "comm", head: "COMM", width: -12, wide: -16,
			text: func(r *Row, o *Options) string {
				if r.Comm == "" {
					return "-"
				}
				c := []rune(textsafe.Printable(r.Comm))
				if n := -columns["comm"].textWidth(o); len(c) > n {
					c = c[:n]
				}
				return string(c)
			},
			value: func(r *Row, _ *Options) any { // null when unknown
				if r.Comm == "" {
					return (*string)(nil)
				}
				return r.Comm
			},
			csv: func(r *Row, _ *Options) string { return textsafe.CSVField(r.Comm) }},
		{key: "ip", head: "IP", width: -2, show: func(o *Options) bool { return o.Wide },
			text: func(r *Row, _ *Options) string { return ipVersion(r.LAddr) }},
		{key: "laddr", head: "LADDR", width: -15, wide: -39,
			text: endpoint(func(r *Row) string { return r.LAddr }), value: str(func(r *Row) string { return r.LAddr })},
		{key: "lport", head: "LPORT", width: -5,
			text: func(r *Row, _ *Options) string { return strconv.Itoa(int(r.LPort)) }, value: func(r *Row, _ *Options) any { return r.LPort }},
		{key: "raddr", head: "RADDR", width: -15, wide: -39,
			text: endpoint(func(r *Row) string { return r.RAddr }), value: str(func(r *Row) string { return r.RAddr })},
		{key: "rport", head: "RPORT", width: -5,
			text: func(r *Row, _ *Options) string { return strconv.Itoa(int(r.RPort)) }, value: func(r *Row, _ *Options) any { return r.RPort }},
		{key: "client", head: "CLIENT", width: -21,
			text: endpoint(func(r *Row) string { return r.Client }), value: str(func(r *Row) string { return r.Client }),
			csv: func(r *Row, _ *Options) string { return textsafe.CSVField(r.Client) }},
		{key: "server", head: "SERVER", width: -21,
			text: endpoint(func(r *Row) string { return r.Server }), value: str(func(r *Row) string { return r.Server }),
			csv: func(r *Row, _ *Options) string { return textsafe.CSVField(r.Server) }},
		{key: "tx_kib", head: "TX_KiB", width: 5, wide: 8,
			text: kib(func(r *Row) uint64 { return r.TXBytes }), value: u(func(r *Row) uint64 { return r.TXBytes >> 10 })},
		{key: "rx_kib", head: "RX_KiB", width: 5, wide: 8,
			text: kib(func(r *Row) uint64 { return r.RXBytes }), value: u(func(r *Row) uint64 { return r.RXBytes >> 10 })},
		{key: "c2s_kib", head: "C2S_KiB", width: 7, wide: 8, text: kib((*Row).BytesC2S)},
		{key: "s2c_kib", head: "S2C_KiB", width: 7, wide: 8, text: kib((*Row).BytesS2C)},
		{key: "tx_bytes", value: u(func(r *Row) uint64 { return r.TXBytes })},
		{key: "rx_bytes", value: u(func(r *Row) uint64 { return r.RXBytes })},
		{key: "bytes_c2s", value: u((*Row).BytesC2S)},
		{key: "bytes_s2c", value: u((*Row).BytesS2C)},
		{key: "tx_wire_bytes", value: u(func(r *Row) uint64 { return r.TXWire })},
		{key: "rx_wire_bytes", value: u(func(r *Row) uint64 { return r.RXWire })},
		{key: "tx_packets", value: u(func(r *Row) uint64 { return r.TXPackets })},
		{key: "rx_packets", value: u(func(r *Row) uint64 { return r.RXPackets })},
		{key: "packets", value: u((*Row).Packets)},
		{key: "ms", head: "MS", width: 10,
			text:  func(r *Row, _ *Options) string { return strconv.FormatFloat(r.DurationMS, 'f', 2, 64) },
			value: num(func(r *Row) float64 { return r.DurationMS })},
		{key: "retrans", head: "RETRANS", width: 7,
			text:  func(r *Row, _ *Options) string { return strconv.Itoa(r.Retrans) },
			value: func(r *Row, _ *Options) any { return r.Retrans },
			color: func(r *Row) string {
				if r.Retrans > 0 {
					return sgrYellow
				}
				return ""
			}},
		{key: "retrans_bytes", value: u(func(r *Row) uint64 { return r.RetransB })},
		{key: "rtt_ms", head: "RTT_MS", width: 8,
			text: func(r *Row, _ *Options) string {
				if r.RTTms == 0 {
					return "-"
				}
				return strconv.FormatFloat(r.RTTms, 'f', 3, 64)
			},
			value: num(func(r *Row) float64 { return r.RTTms })},
		{key: "rtt_min_ms", value: num(func(r *Row) float64 { return r.RTTMin })},
		{key: "rtt_avg_ms", value: num(func(r *Row) float64 { return r.RTTAvg })},
		{key: "rtt_max_ms", value: num(func(r *Row) float64 { return r.RTTMax })},
		{key: "handshake_rtt_ms", value: num(func(r *Row) float64 { return r.HandshakeRTT })},
		{key: "zero_window", head: "ZERO_WIN", width: -11,
			text: func(r *Row, _ *Options) string { return events.ZeroWindowLabel(r.ZeroWindowMS, r.ZeroWindowShare) }},
		{key: "zero_window_ms", value: num(func(r *Row) float64 { return r.ZeroWindowMS })},
		{key: "zero_window_share", value: num(func(r *Row) float64 { return r.ZeroWindowShare })},
		{key: "state", head: "STATE", width: -6,
			text: func(r *Row, _ *Options) string { return orDash(r.State) }, value: str(func(r *Row) string { return r.State }),
			color: func(r *Row) string { return stateColor(r.State) }},
		{key: "state_text", head: "END", width: -15, // the state in plain words
			text:  func(r *Row, _ *Options) string { return orDash(events.ConnStateText(r.State)) },
			value: str(func(r *Row) string { return events.ConnStateText(r.State) })},
		{key: "history", head: "HISTORY",
			text:  func(r *Row, _ *Options) string { return orDash(textsafe.Printable(r.History)) },
			value: str(func(r *Row) string { return r.History })},
		{key: "ended", value: str(func(r *Row) string { return r.Ended })}, // fin, rst, ...; "end" is a time
		{key: "events", value: func(r *Row, _ *Options) any { return events.FindingCounts(r.Events) },
			csv: func(r *Row, _ *Options) string { return eventList(events.FindingCounts(r.Events)) }},
		{key: "local_is_server", value: func(r *Row, _ *Options) any { return r.LocalIsServer }},
		// The limit: "rwnd 61%" in text ("~" in front when inferred from
		// packets); in CSV and JSON the dominant limit, its share (0..1) and
		// where it was measured (kernel or packets).
		{key: "limit", head: "LIMIT", width: -13,
			text: func(r *Row, _ *Options) string { return r.Limits.Label() },
			value: str(func(r *Row) string {
				if r.Limits == nil {
					return ""
				}
				return r.Limits.Dominant
			})},
		{key: "limit_share", value: num(func(r *Row) float64 {
			if r.Limits == nil {
				return 0
			}
			return r.Limits.Seconds.Share()
		})},
		{key: "limit_source", value: str(func(r *Row) string {
			if r.Limits == nil {
				return ""
			}
			return r.Limits.Source
		})},
		{key: "why", value: str(func(r *Row) string {
			if r.Limits == nil {
				return ""
			}
			return r.Limits.Sentence()
		})},
	} {
		if columns[c.key] != nil {
			panic("conntable: column " + c.key + " defined twice")
		}
		columns[c.key] = &c
	}
}

func sinceOrigin(r *Row, o *Options) float64 { return float64(r.Start-o.Origin) / 1e9 }

// eventList is "type n, type n" in type order.
func eventList(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " " + strconv.Itoa(m[k])
	}
	return strings.Join(parts, ", ")
}

// textColumns are the view's columns the text table shows with o.
func (v *View) textColumns(o *Options) ([]*column, error) {
	var out []*column
	for _, k := range v.Text {
		c := columns[k]
		if c == nil || c.text == nil {
			return nil, fmt.Errorf("text column %q: no such column", k)
		}
		if c.show == nil || c.show(o) {
			out = append(out, c)
		}
	}
	return out, nil
}

// fields are the view's CSV and JSON columns.
func (v *View) fields() ([]*column, error) {
	out := make([]*column, len(v.Fields))
	for i, k := range v.Fields {
		c := columns[k]
		if c == nil || c.value == nil {
			return nil, fmt.Errorf("field %q: no such column", k)
		}
		out[i] = c
	}
	return out, nil
}
