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
	// View is the columns shown; nil means FlowsView.
	View  *View
	Color bool // text: ANSI colours (only for terminals; the caller decides)
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

func (o *Options) view() *View {
	if o.View == nil {
		return &FlowsView
	}
	return o.View
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
	cols, err := o.view().textColumns(&o)
	if err != nil {
		return err
	}
	var line strings.Builder
	for i := range cols {
		if i > 0 {
			line.WriteByte(' ')
		}
		name := cols[i].head
		if i < len(cols)-1 {
			name = pad(name, cols[i].textWidth(&o))
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
			c := cols[j]
			if j > 0 {
				w.WriteByte(' ')
			}
			v := c.text(r, &o)
			if j < len(cols)-1 {
				v = pad(v, c.textWidth(&o))
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

func writeJSON(w *bufio.Writer, rows []Row, o Options) error {
	cols, err := o.view().fields()
	if err != nil {
		return err
	}
	var b []byte
	for i := range rows {
		if b, err = appendJSON(b[:0], cols, &rows[i], &o); err != nil {
			return err
		}
		w.Write(append(b, '\n'))
	}
	return nil
}

// appendJSON appends one row as a JSON object: the view's fields in order.
func appendJSON(b []byte, cols []*column, r *Row, o *Options) ([]byte, error) {
	b = append(b, '{')
	for i, c := range cols {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, c.key)
		b = append(b, ':')
		v, err := json.Marshal(c.value(r, o))
		if err != nil {
			return nil, fmt.Errorf("write JSON: connection %d: %s: %w", r.Flow, c.key, err)
		}
		b = append(b, v...)
	}
	return append(b, '}'), nil
}

// JSONRows is each row as a JSON object, the view's fields in order (the
// connections list of a JSON document).
func JSONRows(rows []Row, o Options) ([]json.RawMessage, error) {
	cols, err := o.view().fields()
	if err != nil {
		return nil, err
	}
	out := make([]json.RawMessage, len(rows))
	for i := range rows {
		if out[i], err = appendJSON(nil, cols, &rows[i], &o); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func writeCSV(w *bufio.Writer, rows []Row, o Options) error {
	cols, err := o.view().fields()
	if err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	if o.Header {
		cw.Write(o.view().Fields)
	}
	rec := make([]string, len(cols))
	for i := range rows {
		for j, c := range cols {
			if c.csv != nil {
				rec[j] = c.csv(&rows[i], &o)
			} else {
				rec[j] = csvCell(c.value(&rows[i], &o))
			}
		}
		cw.Write(rec)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write CSV: %w", err)
	}
	return nil
}

// csvCell is a value's plain text: numbers in full, times in RFC 3339,
// nothing for an unknown (nil) value.
func csvCell(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case uint64:
		return strconv.FormatUint(v, 10)
	case uint32:
		return strconv.FormatUint(uint64(v), 10)
	case uint16:
		return strconv.FormatUint(uint64(v), 10)
	case int:
		return strconv.Itoa(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case events.Timestamp:
		return v.Time().Format(time.RFC3339Nano)
	case *uint32, *string:
		return ""
	}
	panic(fmt.Sprintf("conntable: no CSV form for %T", v))
}
