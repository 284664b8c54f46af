package pairing

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/tcpviz/tcpviz/internal/textsafe"
)

// DelayNote says what a one-way delay is; every output carries it.
const DelayNote = "one-way delay = time in the downstream capture minus time in the upstream one: it includes the offset between the two capture clocks (zero only when both captures share a clock, e.g. one host)"

// jsonResult is the JSON document: the result with the delay note.
type jsonResult struct {
	Note string `json:"note"`
	*Result
}

// WriteJSON writes the result as one indented JSON document.
func WriteJSON(w io.Writer, r *Result) error {
	b, err := json.MarshalIndent(jsonResult{DelayNote, r}, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteText writes the result for a terminal.
func WriteText(w io.Writer, r *Result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "pairing: A = %s, B = %s\n", textsafe.Printable(r.A), textsafe.Printable(r.B))
	fmt.Fprintf(&b, "%s\n", DelayNote)
	fmt.Fprintf(&b, "%s in both captures, %d only in A, %d only in B\n", plural(len(r.Conns), "connection"), len(r.OnlyA), len(r.OnlyB))
	if r.Truncated {
		fmt.Fprintf(&b, "warning: a capture holds more than %d segments: the figures cover the first ones\n", DefaultLimit)
	}
	if r.DropsA+r.DropsB > 0 {
		fmt.Fprintf(&b, "warning: the captures dropped packets (A %d, B %d): a drop downstream counts as a loss on the path\n", r.DropsA, r.DropsB)
	}
	for i := range r.Conns {
		c := &r.Conns[i]
		fmt.Fprintf(&b, "\nflow %d (A) / %d (B)  %s → %s", c.FlowA, c.FlowB, c.Client, c.Server)
		if c.ClientB != "" {
			fmt.Fprintf(&b, "  (B: %s → %s)", c.ClientB, c.ServerB)
		}
		near := "assumed: first capture"
		if c.Position == PositionHandshake {
			near = "from the handshake"
		}
		fmt.Fprintf(&b, "\n  matched by %s; %s is nearer the client (%s)\n", c.Match, strings.ToUpper(c.NearClient), near)
		for d := range c.Dirs {
			writeDir(&b, &c.Dirs[d])
		}
	}
	if len(r.Conns) > 1 {
		t := r.Totals()
		b.WriteString("\nall connections:\n")
		for d := range t {
			fmt.Fprintf(&b, "  %s: data %d sent, %d lost (%s); ACKs %d sent, %d lost\n", t[d].Dir,
				t[d].DataSent, t[d].DataLost, pct(t[d].DataLost, t[d].DataSent), t[d].ACKsSent, t[d].ACKsLost)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeDir(b *strings.Builder, s *DirStats) {
	to := "b"
	if s.From == "b" {
		to = "a"
	}
	fmt.Fprintf(b, "  %s (%s → %s): data %d sent, %d lost (%s); ACKs %d sent, %d lost",
		s.Dir, strings.ToUpper(s.From), strings.ToUpper(to), s.DataSent, s.DataLost, pct(s.DataLost, s.DataSent), s.ACKsSent, s.ACKsLost)
	if s.OnlyDown > 0 {
		fmt.Fprintf(b, "; %d only downstream", s.OnlyDown)
	}
	if d := s.Delay; d.Samples > 0 {
		fmt.Fprintf(b, "\n    one-way delay ms: min %.3f, median %.3f, p95 %.3f, max %.3f (%d segments)", d.MinMS, d.P50MS, d.P95MS, d.MaxMS, d.Samples)
	}
	if len(s.LostFrames) > 0 {
		fs := make([]string, 0, min(len(s.LostFrames), 20))
		for _, f := range s.LostFrames[:min(len(s.LostFrames), 20)] {
			fs = append(fs, strconv.FormatUint(f, 10))
		}
		more := ""
		if s.DataLost > len(fs) {
			more = ", …"
		}
		fmt.Fprintf(b, "\n    lost data segments, frames in %s: %s%s", strings.ToUpper(s.From), strings.Join(fs, ", "), more)
	}
	b.WriteByte('\n')
}

// CSVHeader names the columns of WriteCSV: one row per connection and
// direction.
var CSVHeader = []string{"flow_a", "flow_b", "client", "server", "dir", "from", "data_sent", "data_lost",
	"acks_sent", "acks_lost", "only_downstream", "delay_samples", "delay_min_ms", "delay_p50_ms", "delay_p95_ms", "delay_max_ms"}

// WriteCSV writes one row per connection and direction.
func WriteCSV(w io.Writer, r *Result) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for i := range r.Conns {
		c := &r.Conns[i]
		for d := range c.Dirs {
			s := &c.Dirs[d]
			row := []string{strconv.FormatUint(c.FlowA, 10), strconv.FormatUint(c.FlowB, 10), c.Client, c.Server, s.Dir, s.From,
				strconv.Itoa(s.DataSent), strconv.Itoa(s.DataLost), strconv.Itoa(s.ACKsSent), strconv.Itoa(s.ACKsLost),
				strconv.Itoa(s.OnlyDown), strconv.Itoa(s.Delay.Samples), f(s.Delay.MinMS), f(s.Delay.P50MS), f(s.Delay.P95MS), f(s.Delay.MaxMS)}
			if err := cw.Write(row); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

func pct(n, of int) string {
	if of == 0 {
		return "0%"
	}
	return strconv.FormatFloat(100*float64(n)/float64(of), 'f', 2, 64) + "%"
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
