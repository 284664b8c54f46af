package conntable

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/textsafe"
)

// Output formats.
const (
	FormatText = "text"
	FormatCSV  = "csv"
	FormatJSON = "json" // JSON Lines: one object per connection
)

// Options shape the output.
type Options struct {
	Format  string // FormatText (default), FormatCSV or FormatJSON
	Wide    bool   // text: IP version column, IPv6-wide address columns, full COMM
	Seconds bool   // text: TIME(s) column, seconds since Origin
	Clock   bool   // text: TIME column, HH:MM:SS of the connection's start
	Header  bool   // text and CSV: print the header line
	Why     bool   // text: one sentence per connection on what limited it, instead of the table
	Color   bool   // text: ANSI colours (only for terminals; the caller decides)
	// Origin is what TIME(s) counts from (ns since the epoch); 0 means the
	// earliest start among the rows.
	Origin int64
	// Location for the TIME column; nil means local time, like tcplife.
	Location *time.Location
}

// Write renders rows in the chosen format.
func Write(w io.Writer, rows []Row, o Options) error {
	if o.Origin == 0 {
		for i := range rows {
			if o.Origin == 0 || rows[i].Start < o.Origin {
				o.Origin = rows[i].Start
			}
		}
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	bw := bufio.NewWriter(w)
	var err error
	switch o.Format {
	case "", FormatText:
		err = writeText(bw, rows, o)
	case FormatCSV:
		err = writeCSV(bw, rows, o)
	case FormatJSON:
		err = writeJSON(bw, rows, o)
	default:
		return fmt.Errorf("output format %q: want text, csv or json", o.Format)
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

// ANSI SGR sequences.
const (
	sgrBold   = "\x1b[1m"
	sgrRed    = "\x1b[31m"
	sgrGreen  = "\x1b[32m"
	sgrYellow = "\x1b[33m"
	sgrReset  = "\x1b[0m"
)

func paint(on bool, sgr, s string) string {
	if !on || sgr == "" {
		return s
	}
	return sgr + s + sgrReset
}

// stateColor marks clean closes green and failed or reset connections red.
func stateColor(state string) string {
	switch state {
	case "SF":
		return sgrGreen
	case "REJ", "S0", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR":
		return sgrRed
	}
	return ""
}

// column is one text column: its header, width (negative: left-aligned)
// and how a row fills it.
type column struct {
	name  string
	width int
	value func(r *Row) string
	color func(r *Row) string
}

func textColumns(o Options) []column {
	commWidth, addrWidth, kbWidth := 12, 15, 5
	if o.Wide {
		commWidth, addrWidth, kbWidth = 16, 39, 8
	}
	var cols []column
	if o.Clock {
		cols = append(cols, column{"TIME", -8, func(r *Row) string {
			return time.Unix(0, r.Start).In(o.Location).Format("15:04:05")
		}, nil})
	}
	if o.Seconds {
		cols = append(cols, column{"TIME(s)", -9, func(r *Row) string {
			return strconv.FormatFloat(float64(r.Start-o.Origin)/1e9, 'f', 3, 64)
		}, nil})
	}
	cols = append(cols,
		column{"PID", -7, func(r *Row) string {
			if r.PID == 0 {
				return "-"
			}
			return strconv.FormatUint(uint64(r.PID), 10)
		}, nil},
		column{"COMM", -commWidth, func(r *Row) string {
			if r.Comm == "" {
				return "-"
			}
			c := []rune(textsafe.Printable(r.Comm))
			if len(c) > commWidth {
				c = c[:commWidth]
			}
			return string(c)
		}, nil})
	if o.Wide {
		cols = append(cols, column{"IP", -2, func(r *Row) string { return ipVersion(r.LAddr) }, nil})
	}
	cols = append(cols,
		column{"LADDR", -addrWidth, func(r *Row) string { return r.LAddr }, nil},
		column{"LPORT", -5, func(r *Row) string { return strconv.Itoa(int(r.LPort)) }, nil},
		column{"RADDR", -addrWidth, func(r *Row) string { return r.RAddr }, nil},
		column{"RPORT", -5, func(r *Row) string { return strconv.Itoa(int(r.RPort)) }, nil},
		column{"TX_KiB", kbWidth, func(r *Row) string { return strconv.FormatUint(r.TXBytes>>10, 10) }, nil},
		column{"RX_KiB", kbWidth, func(r *Row) string { return strconv.FormatUint(r.RXBytes>>10, 10) }, nil},
		column{"MS", 10, func(r *Row) string { return strconv.FormatFloat(r.DurationMS, 'f', 2, 64) }, nil},
		column{"RETRANS", 7, func(r *Row) string { return strconv.Itoa(r.Retrans) }, func(r *Row) string {
			if r.Retrans > 0 {
				return sgrYellow
			}
			return ""
		}},
		column{"RTT_MS", 8, func(r *Row) string {
			if r.RTTms == 0 {
				return "-"
			}
			return strconv.FormatFloat(r.RTTms, 'f', 3, 64)
		}, nil},
		column{"LIMIT", -13, func(r *Row) string { return r.Limits.Label() }, nil},
		column{"ZERO_WIN", -11, func(r *Row) string { return events.ZeroWindowLabel(r.ZeroWindowMS, r.ZeroWindowShare) }, nil},
		column{"STATE", -6, func(r *Row) string { return orDash(r.State) }, func(r *Row) string { return stateColor(r.State) }},
		column{"END", -15, func(r *Row) string { return orDash(events.ConnStateText(r.State)) }, nil},
		column{"HISTORY", 0, func(r *Row) string { return orDash(textsafe.Printable(r.History)) }, nil},
	)
	return cols
}

// writeWhy prints one sentence per connection: what limited the direction
// that carried more payload.
func writeWhy(w *bufio.Writer, rows []Row) error {
	for i := range rows {
		r := &rows[i]
		fmt.Fprintf(w, "#%d %s > %s: %s\n", r.Flow, hostPort(r.LAddr, r.LPort), hostPort(r.RAddr, r.RPort), r.Limits.Sentence())
	}
	return nil
}

func hostPort(addr string, port uint16) string {
	if strings.Contains(addr, ":") {
		return "[" + addr + "]:" + strconv.Itoa(int(port))
	}
	return addr + ":" + strconv.Itoa(int(port))
}

func writeText(w *bufio.Writer, rows []Row, o Options) error {
	if o.Why {
		return writeWhy(w, rows)
	}
	cols := textColumns(o)
	var line strings.Builder
	for i := range cols {
		if i > 0 {
			line.WriteByte(' ')
		}
		name := cols[i].name
		if i < len(cols)-1 {
			name = pad(name, cols[i].width)
		}
		line.WriteString(name)
	}
	if o.Header {
		w.WriteString(paint(o.Color, sgrBold, strings.TrimRight(line.String(), " ")))
		w.WriteByte('\n')
	}
	for i := range rows {
		r := &rows[i]
		for j := range cols {
			c := &cols[j]
			if j > 0 {
				w.WriteByte(' ')
			}
			v := c.value(r)
			if j < len(cols)-1 {
				v = pad(v, c.width)
			}
			sgr := ""
			if c.color != nil {
				sgr = c.color(r)
			}
			w.WriteString(paint(o.Color, sgr, v))
		}
		w.WriteByte('\n')
	}
	return nil
}

func pad(s string, width int) string {
	n := len([]rune(s))
	switch {
	case width < 0 && n < -width:
		return s + strings.Repeat(" ", -width-n)
	case width > 0 && n < width:
		return strings.Repeat(" ", width-n) + s
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// record is one row in machine-readable form (CSV columns, JSON fields).
type record struct {
	Flow       uint64           `json:"flow"`
	Start      events.Timestamp `json:"start"`
	End        events.Timestamp `json:"end"`
	TimeS      float64          `json:"time_s"`
	PID        *uint32          `json:"pid"`  // null when unknown
	Comm       *string          `json:"comm"` // null when unknown
	LAddr      string           `json:"laddr"`
	LPort      uint16           `json:"lport"`
	RAddr      string           `json:"raddr"`
	RPort      uint16           `json:"rport"`
	TXKB       uint64           `json:"tx_kib"`
	RXKB       uint64           `json:"rx_kib"`
	MS         float64          `json:"ms"`
	TXBytes    uint64           `json:"tx_bytes"`
	RXBytes    uint64           `json:"rx_bytes"`
	TXWire     uint64           `json:"tx_wire_bytes"`
	RXWire     uint64           `json:"rx_wire_bytes"`
	TXPackets  uint64           `json:"tx_packets"`
	RXPackets  uint64           `json:"rx_packets"`
	Retrans    int              `json:"retrans"`
	RetransB   uint64           `json:"retrans_bytes"`
	RTTms      float64          `json:"rtt_ms"`
	ZeroWinMS  float64          `json:"zero_window_ms"`
	ZeroWinSh  float64          `json:"zero_window_share"`
	State      string           `json:"state"`
	StateText  string           `json:"state_text"` // the state in plain words
	History    string           `json:"history"`
	LocalIsSrv bool             `json:"local_is_server"`
	Limit      string           `json:"limit"`        // dominant limit ("" when no data)
	LimitShare float64          `json:"limit_share"`  // its share, 0..1
	LimitSrc   string           `json:"limit_source"` // kernel or packets (inferred)
	Why        string           `json:"why"`
}

// CSVHeader is the first line of --csv output; the JSON fields have the
// same names.
var CSVHeader = []string{"flow", "start", "end", "time_s", "pid", "comm", "laddr", "lport", "raddr", "rport",
	"tx_kib", "rx_kib", "ms", "tx_bytes", "rx_bytes", "tx_wire_bytes", "rx_wire_bytes", "tx_packets", "rx_packets",
	"retrans", "retrans_bytes", "rtt_ms", "zero_window_ms", "zero_window_share", "state", "state_text", "history", "local_is_server", "limit", "limit_share", "limit_source", "why"}

func toRecord(r *Row, o *Options) record {
	rec := record{
		Flow: r.Flow, Start: events.Timestamp(r.Start), End: events.Timestamp(r.End),
		TimeS: float64(r.Start-o.Origin) / 1e9,
		LAddr: r.LAddr, LPort: r.LPort, RAddr: r.RAddr, RPort: r.RPort,
		TXKB: r.TXBytes >> 10, RXKB: r.RXBytes >> 10, MS: r.DurationMS,
		TXBytes: r.TXBytes, RXBytes: r.RXBytes, TXWire: r.TXWire, RXWire: r.RXWire,
		TXPackets: r.TXPackets, RXPackets: r.RXPackets,
		Retrans: r.Retrans, RetransB: r.RetransB, RTTms: r.RTTms,
		ZeroWinMS: r.ZeroWindowMS, ZeroWinSh: r.ZeroWindowShare,
		State: r.State, StateText: events.ConnStateText(r.State), History: r.History, LocalIsSrv: r.LocalIsServer,
	}
	if l := r.Limits; l != nil {
		rec.Limit, rec.LimitShare, rec.LimitSrc, rec.Why = l.Dominant, l.Share, l.Source, l.Sentence()
	}
	if r.PID != 0 {
		pid := r.PID
		rec.PID = &pid
	}
	if r.Comm != "" {
		comm := r.Comm
		rec.Comm = &comm
	}
	return rec
}

func writeJSON(w *bufio.Writer, rows []Row, o Options) error {
	enc := json.NewEncoder(w)
	for i := range rows {
		if err := enc.Encode(toRecord(&rows[i], &o)); err != nil {
			return fmt.Errorf("write JSON: %w", err)
		}
	}
	return nil
}

func writeCSV(w *bufio.Writer, rows []Row, o Options) error {
	cw := csv.NewWriter(w)
	if o.Header {
		cw.Write(CSVHeader)
	}
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	for i := range rows {
		rec := toRecord(&rows[i], &o)
		pid, comm := "", ""
		if rec.PID != nil {
			pid = u(uint64(*rec.PID))
		}
		if rec.Comm != nil {
			comm = textsafe.CSVField(*rec.Comm)
		}
		cw.Write([]string{
			u(rec.Flow), rec.Start.Time().Format(time.RFC3339Nano), rec.End.Time().Format(time.RFC3339Nano),
			strconv.FormatFloat(rec.TimeS, 'f', 6, 64), pid, comm,
			rec.LAddr, u(uint64(rec.LPort)), rec.RAddr, u(uint64(rec.RPort)),
			u(rec.TXKB), u(rec.RXKB), f(rec.MS), u(rec.TXBytes), u(rec.RXBytes), u(rec.TXWire), u(rec.RXWire),
			u(rec.TXPackets), u(rec.RXPackets), strconv.Itoa(rec.Retrans), u(rec.RetransB), f(rec.RTTms),
			f(rec.ZeroWinMS), f(rec.ZeroWinSh),
			rec.State, rec.StateText, rec.History, strconv.FormatBool(rec.LocalIsSrv),
			rec.Limit, f(rec.LimitShare), rec.LimitSrc, rec.Why,
		})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write CSV: %w", err)
	}
	return nil
}
