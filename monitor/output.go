package monitor

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ANSI colours for the levels.
const (
	colorReset  = "\x1b[0m"
	colorYellow = "\x1b[33m"
	colorRed    = "\x1b[1;31m"
	colorGreen  = "\x1b[32m"
)

// UseColor says whether alerts written to f should be coloured: only on a
// terminal, and never when NO_COLOR is set to anything (no-color.org).
func UseColor(f *os.File) bool {
	st, err := f.Stat()
	return colorFor(err == nil && st.Mode()&os.ModeCharDevice != 0, os.Getenv("NO_COLOR"))
}

func colorFor(terminal bool, noColor string) bool { return terminal && noColor == "" }

// FormatAlert appends the human form of a to b: one line, no newline.
func FormatAlert(b []byte, a *Alert, color bool) []byte {
	b = a.Time.Time().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, ' ')
	if color {
		switch a.Level {
		case LevelWarn:
			b = append(b, colorYellow...)
		case LevelCritical:
			b = append(b, colorRed...)
		case LevelRecovered:
			b = append(b, colorGreen...)
		}
	}
	b = fmt.Appendf(b, "%-9s", a.Level.String())
	if color {
		b = append(b, colorReset...)
	}
	b = fmt.Appendf(b, " %s -> %s %s %d in %gs", a.Client, a.Server, a.Kind, a.Count, a.WindowS)
	if a.Level == LevelRecovered {
		b = fmt.Appendf(b, " (below %d)", a.Threshold)
	} else {
		b = fmt.Appendf(b, " (threshold %d)", a.Threshold)
	}
	if h := hint(a); h != "" {
		b = append(b, "  "...)
		b = append(b, h...)
	}
	if a.File != "" {
		b = fmt.Appendf(b, "  [%s frame %d]", filepath.Base(a.File), a.Frame)
	}
	return b
}

// hint is the state of the connection as the capture shows it.
func hint(a *Alert) string {
	var parts []string
	if a.KernelCwnd > 0 {
		parts = append(parts, "cwnd "+strconv.FormatUint(uint64(a.KernelCwnd), 10))
	}
	switch {
	case a.KernelSRTTms > 0:
		parts = append(parts, "srtt "+fmtMS(a.KernelSRTTms))
	case a.SRTTms > 0:
		parts = append(parts, "srtt~"+fmtMS(a.SRTTms)) // inferred from packets
	}
	if a.BytesInFlight > 0 {
		parts = append(parts, "in flight "+strconv.FormatInt(a.BytesInFlight, 10)+" B")
	}
	return strings.Join(parts, " ")
}

func fmtMS(ms float64) string {
	return (time.Duration(ms * float64(time.Millisecond))).Round(10 * time.Microsecond).String()
}

// alertWriter prints alerts in the human or the JSON form.
type alertWriter struct {
	w     io.Writer
	json  bool
	host  string // the host label of JSON alerts
	color bool
	buf   []byte
	err   error
}

func (o *alertWriter) write(a *Alert) {
	if o.err != nil {
		return
	}
	if o.json {
		b, err := json.Marshal(a.Alertmanager(o.host))
		if err != nil {
			o.err = err
			return
		}
		o.buf = append(o.buf[:0], b...)
	} else {
		o.buf = FormatAlert(o.buf[:0], a, o.color)
	}
	o.buf = append(o.buf, '\n')
	_, o.err = o.w.Write(o.buf)
}
