package livetable

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tcpviz/tcpviz/internal/textsafe"
)

// Column is one column of the live table. Drop is the order in which
// columns leave a terminal too narrow for all of them: the highest first,
// 0 never.
type Column struct {
	Name  string
	Width int
	Drop  int
	Right bool
	text  func(*Row) string
	key   func(*Row) float64 // numeric sort key; nil sorts by text
}

// Columns, left to right. docs/top.md lists the same drop order.
var Columns = []Column{
	{Name: "PID", Width: 7, Drop: 6, Right: true, text: func(r *Row) string { return uitoa(uint64(r.PID)) }, key: func(r *Row) float64 { return float64(r.PID) }},
	{Name: "COMM", Width: 15, Drop: 0, text: func(r *Row) string { return Printable(r.Comm) }},
	{Name: "LOCAL", Width: 22, Drop: 0, text: func(r *Row) string { return r.Local }},
	{Name: "REMOTE", Width: 22, Drop: 0, text: func(r *Row) string { return r.Remote }},
	{Name: "STATE", Width: 11, Drop: 7, text: func(r *Row) string { return r.State }},
	{Name: "CWND", Width: 6, Drop: 0, Right: true, text: func(r *Row) string { return num(r.Cwnd) }, key: func(r *Row) float64 { return float64(r.Cwnd) }},
	{Name: "SSTHR", Width: 6, Drop: 9, Right: true, text: func(r *Row) string { return ssthresh(r.Ssthresh) }, key: func(r *Row) float64 { return float64(r.Ssthresh) }},
	{Name: "SRTT", Width: 8, Drop: 0, Right: true, text: func(r *Row) string { return ms(r.SRTTms) }, key: func(r *Row) float64 { return r.SRTTms }},
	{Name: "RTTVAR", Width: 7, Drop: 13, Right: true, text: func(r *Row) string { return ms(r.RTTVarms) }, key: func(r *Row) float64 { return r.RTTVarms }},
	{Name: "INFLIGHT", Width: 9, Drop: 8, Right: true, text: func(r *Row) string { return Bytes(float64(r.InFlight)) }, key: func(r *Row) float64 { return float64(r.InFlight) }},
	{Name: "SEND/s", Width: 9, Drop: 0, Right: true, text: func(r *Row) string { return Bytes(r.SendRate) }, key: func(r *Row) float64 { return r.SendRate }},
	{Name: "RECV/s", Width: 9, Drop: 1, Right: true, text: func(r *Row) string { return Bytes(r.RecvRate) }, key: func(r *Row) float64 { return r.RecvRate }},
	{Name: "DELIV/s", Width: 9, Drop: 11, Right: true, text: func(r *Row) string { return Bytes(r.DeliveryRate) }, key: func(r *Row) float64 { return r.DeliveryRate }},
	{Name: "PACING/s", Width: 9, Drop: 12, Right: true, text: func(r *Row) string { return Bytes(r.PacingRate) }, key: func(r *Row) float64 { return r.PacingRate }},
	{Name: "RETR", Width: 6, Drop: 0, Right: true, text: func(r *Row) string { return strconv.FormatUint(r.Retrans, 10) }, key: func(r *Row) float64 { return float64(r.Retrans) }},
	{Name: "RETR/i", Width: 6, Drop: 2, Right: true, text: func(r *Row) string { return strconv.FormatUint(r.RetransNow, 10) }, key: func(r *Row) float64 { return float64(r.RetransNow) }},
	{Name: "LIMIT", Width: 9, Drop: 5, text: func(r *Row) string { return r.Limit }},
	{Name: "AGE", Width: 7, Drop: 10, Right: true, text: func(r *Row) string { return age(r.AgeSeconds) }, key: func(r *Row) float64 { return r.AgeSeconds }},
}

// ColumnIndex finds a column by name (case-insensitive), -1 when none.
func ColumnIndex(name string) int {
	for i, c := range Columns {
		if strings.EqualFold(c.Name, name) || strings.EqualFold(strings.TrimSuffix(c.Name, "/s"), name) {
			return i
		}
	}
	return -1
}

// Sort orders rows by a column, largest first unless ascending; ties by
// flow id so the order is stable between refreshes.
func Sort(rows []Row, col int, ascending bool) {
	c := Columns[col]
	slices.SortStableFunc(rows, func(a, b Row) int {
		var d int
		if c.key != nil {
			d = cmp.Compare(c.key(&a), c.key(&b))
		} else {
			d = strings.Compare(c.text(&a), c.text(&b))
		}
		if !ascending {
			d = -d
		}
		if d == 0 {
			d = cmp.Compare(a.Flow, b.Flow)
		}
		return d
	})
}

// Visible returns the indexes of the columns that fit in width.
func Visible(width int) []int {
	idx := make([]int, len(Columns))
	total := 0
	for i, c := range Columns {
		idx[i] = i
		total += c.Width + 1
	}
	for total > width {
		worst := -1
		for j, i := range idx {
			if Columns[i].Drop > 0 && (worst < 0 || Columns[i].Drop > Columns[idx[worst]].Drop) {
				worst = j
			}
		}
		if worst < 0 {
			break
		}
		total -= Columns[idx[worst]].Width + 1
		idx = slices.Delete(idx, worst, worst+1)
	}
	return idx
}

// Header renders the column names of cols; the sorted column is marked.
func Header(cols []int, sortCol int, ascending bool) string {
	var b strings.Builder
	for _, i := range cols {
		name := Columns[i].Name
		if i == sortCol {
			if ascending {
				name += "↑"
			} else {
				name += "↓"
			}
		}
		cell(&b, name, Columns[i])
	}
	return strings.TrimRight(b.String(), " ")
}

// Line renders one row in cols.
func Line(r *Row, cols []int) string {
	var b strings.Builder
	for _, i := range cols {
		cell(&b, Columns[i].text(r), Columns[i])
	}
	return strings.TrimRight(b.String(), " ")
}

func cell(b *strings.Builder, s string, c Column) {
	if n := len([]rune(s)); n > c.Width {
		s = string([]rune(s)[:c.Width-1]) + "…"
	}
	pad := strings.Repeat(" ", c.Width-len([]rune(s)))
	if c.Right {
		b.WriteString(pad + s)
	} else {
		b.WriteString(s + pad)
	}
	b.WriteByte(' ')
}

// Footer is the totals line.
func Footer(t Totals, paused bool) string {
	s := fmt.Sprintf("%d connections (%d closed)  send %s/s  recv %s/s  retransmissions %d in the last %s  packets %d  capture drops %d  refresh %s",
		t.Connections, t.Closed, Bytes(t.SendRate), Bytes(t.RecvRate), t.RetransNow, t.Interval.Round(time.Millisecond),
		t.Packets, t.CaptureDrops, t.Interval.Round(time.Millisecond))
	if paused {
		s += "  [paused]"
	}
	return s
}

// Text renders a whole snapshot as plain text (for --once).
func Text(rows []Row, t Totals, width int) string {
	cols := Visible(width)
	var b strings.Builder
	b.WriteString(Header(cols, -1, false))
	b.WriteByte('\n')
	for i := range rows {
		b.WriteString(Line(&rows[i], cols))
		b.WriteByte('\n')
	}
	b.WriteString(Footer(t, false))
	b.WriteByte('\n')
	return b.String()
}

// Sparkline draws values as block characters scaled to their maximum.
func Sparkline(v []float64) string {
	const bars = "▁▂▃▄▅▆▇█"
	levels := []rune(bars)
	hi := 0.0
	for _, x := range v {
		hi = max(hi, x)
	}
	var b strings.Builder
	for _, x := range v {
		i := 0
		if hi > 0 {
			i = int(x / hi * float64(len(levels)-1))
		}
		b.WriteRune(levels[i])
	}
	return b.String()
}

// Bytes formats a byte count with IEC units (KiB, MiB, GiB).
func Bytes(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v < 1024:
		return strconv.FormatFloat(v, 'f', 0, 64) + "B"
	case v < 1<<20:
		return strconv.FormatFloat(v/(1<<10), 'f', 1, 64) + "KiB"
	case v < 1<<30:
		return strconv.FormatFloat(v/(1<<20), 'f', 1, 64) + "MiB"
	default:
		return strconv.FormatFloat(v/(1<<30), 'f', 2, 64) + "GiB"
	}
}

// Printable replaces control characters (a process name is untrusted: a
// terminal must not obey it).
func Printable(s string) string { return textsafe.Printable(s) }

func num(v uint32) string {
	if v == 0 {
		return "-"
	}
	return strconv.FormatUint(uint64(v), 10)
}

// ssthresh shows the kernel's "infinite" initial value as a dash.
func ssthresh(v uint32) string {
	if v >= 0x7fffffff {
		return "∞"
	}
	return num(v)
}

func ms(v float64) string {
	if v == 0 {
		return "-"
	}
	if v < 10 {
		return strconv.FormatFloat(v, 'f', 2, 64) + "ms"
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + "ms"
}

func age(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + "s"
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}
