package viz

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/textsafe"
)

// Summary output formats.
const (
	FormatText = "text"
	FormatJSON = "json"
	FormatCSV  = "csv"
)

// summaryJSON is the --format json document.
type summaryJSON struct {
	Title       string               `json:"title"`
	Source      string               `json:"source,omitempty"`
	Packets     uint64               `json:"packets"`
	Bytes       uint64               `json:"payload_bytes"`
	Connections int                  `json:"connections"`
	Untracked   uint64               `json:"untracked_connections,omitempty"`
	DurationMS  float64              `json:"duration_ms"`
	Headline    string               `json:"headline"`
	EventsTotal int                  `json:"events_total"` // detector events (kernel records and RTT samples not counted)
	Events      map[string]int       `json:"events"`
	KernelCheck *events.RetransCheck `json:"kernel_check,omitempty"`
	// Limits: the worst connections (events.ComparePriority) and what
	// limited them;
	// LimitsCheck: the inferred limits against the kernel's accounting.
	Limits          []events.Verdict    `json:"limits,omitempty"`
	LimitsCheck     *events.LimitsCheck `json:"limits_check,omitempty"`
	ZeroWindowMS    float64             `json:"zero_window_ms"`
	ZeroWindowFlows int                 `json:"zero_window_flows"`
	Retrans         int                 `json:"retransmissions"`
	RetransPct      float64             `json:"retransmission_pct"`
	Kernel          bool                `json:"kernel_samples"`
	Processes       []ProcessRow        `json:"processes,omitempty"`
	Conns           []connRowJSON       `json:"connections_list"`
	Missing         []string            `json:"missing,omitempty"`
	NoMatch         string              `json:"no_match,omitempty"`
}

type connRowJSON struct {
	Flow         uint64         `json:"flow"`
	PID          uint32         `json:"pid,omitempty"`
	Comm         string         `json:"comm,omitempty"`
	Client       string         `json:"client"`
	Server       string         `json:"server"`
	BytesC2S     uint64         `json:"bytes_c2s"`
	BytesS2C     uint64         `json:"bytes_s2c"`
	Packets      uint64         `json:"packets"`
	DurationMS   float64        `json:"ms"`
	Retrans      int            `json:"retrans"`
	RetransBytes uint64         `json:"retrans_bytes"`
	RTTMin       float64        `json:"rtt_min_ms,omitempty"`
	RTTAvg       float64        `json:"rtt_avg_ms,omitempty"`
	RTTMax       float64        `json:"rtt_max_ms,omitempty"`
	HandshakeRTT float64        `json:"handshake_rtt_ms,omitempty"`
	ZeroWinMS    float64        `json:"zero_window_ms"`
	ZeroWinShare float64        `json:"zero_window_share"`
	State        string         `json:"state"`
	StateText    string         `json:"state_text"`
	End          string         `json:"ended"` // how the capture saw it end (fin, rst, ...); "end" is a time in flows --json
	Events       map[string]int `json:"events,omitempty"`
	Limit        string         `json:"limit,omitempty"` // "rwnd 61%"; "~" in front when inferred from packets
}

// WriteSummary writes the report's figures for a terminal (text), a program
// (json) or a spreadsheet (csv: the connections table).
func (r *Report) WriteSummary(w io.Writer, format string) error {
	switch format {
	case FormatText, "":
		return r.writeText(w)
	case FormatJSON:
		return r.writeJSON(w)
	case FormatCSV:
		return r.writeCSV(w)
	}
	return fmt.Errorf("summary format %q: want text, json or csv", format)
}

func (r *Report) connsJSON() []connRowJSON {
	out := make([]connRowJSON, len(r.Conns))
	for i, c := range r.Conns {
		out[i] = connRowJSON{Flow: c.Flow, PID: c.PID, Comm: c.Comm, Client: c.Client, Server: c.Server,
			BytesC2S: c.BytesC2S(), BytesS2C: c.BytesS2C(), Packets: c.Packets(), DurationMS: c.DurationMS,
			Retrans: c.Retrans, RetransBytes: c.RetransB, RTTMin: c.RTTMin, RTTAvg: c.RTTAvg, RTTMax: c.RTTMax,
			HandshakeRTT: c.HandshakeRTT, ZeroWinMS: c.ZeroWindowMS, ZeroWinShare: c.ZeroWindowShare, State: c.State, StateText: events.ConnStateText(c.State), End: c.Ended,
			Events: events.FindingCounts(c.Events), Limit: c.Limit()}
	}
	return out
}

func (r *Report) writeJSON(w io.Writer) error {
	o := r.Overview
	doc := summaryJSON{Title: r.Title, Source: r.Source, Packets: o.Packets, Bytes: o.Bytes, Connections: o.Flows,
		Untracked: o.OtherFlows, DurationMS: float64(o.Duration) / 1e6, Headline: o.Headline, EventsTotal: o.Events, Events: map[string]int{},
		KernelCheck: o.KernelCheck, Limits: o.Limits, LimitsCheck: o.LimitsCheck,
		ZeroWindowMS: o.ZeroWindowMS, ZeroWindowFlows: o.ZeroWindowFlows,
		Retrans: o.Retrans, RetransPct: o.RetransRate, Kernel: o.KernelSamples, Processes: r.Processes,
		Conns: r.connsJSON(), Missing: r.Missing, NoMatch: r.NoMatch}
	for _, kv := range o.EventCounts {
		doc.Events[kv.Name] = kv.Count
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// csvHeader names each field as the connection table (tcpviz flows --csv)
// names the same field.
var csvHeader = []string{"flow", "pid", "comm", "client", "server", "bytes_c2s", "bytes_s2c", "packets",
	"ms", "retrans", "retrans_bytes", "rtt_min_ms", "rtt_avg_ms", "rtt_max_ms",
	"handshake_rtt_ms", "zero_window_ms", "zero_window_share", "state", "state_text", "ended", "events", "limit"}

func (r *Report) writeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	for _, c := range r.Conns {
		pid := ""
		if c.PID != 0 {
			pid = strconv.FormatUint(uint64(c.PID), 10)
		}
		rec := []string{u(c.Flow), pid, textsafe.CSVField(c.Comm), c.Client, c.Server, u(c.BytesC2S()), u(c.BytesS2C()),
			u(c.Packets()), f(c.DurationMS), strconv.Itoa(c.Retrans), u(c.RetransB), f(c.RTTMin), f(c.RTTAvg),
			f(c.RTTMax), f(c.HandshakeRTT), f(c.ZeroWindowMS), f(c.ZeroWindowShare), c.State, events.ConnStateText(c.State), c.Ended, evList(c.Events), c.Limit()}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return textsafe.Printable(s)
}

func (r *Report) writeText(w io.Writer) error {
	o := r.Overview
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\n", textsafe.Printable(r.Title))
	if r.Source != "" {
		fmt.Fprintf(tw, "source\t%s\n", textsafe.Printable(r.Source))
	}
	if r.NoMatch != "" {
		fmt.Fprintf(tw, "nothing selected: %s\n", textsafe.Printable(r.NoMatch))
	}
	fmt.Fprintf(tw, "headline\t%s\n", o.Headline)
	fmt.Fprintf(tw, "packets\t%d\n", o.Packets)
	fmt.Fprintf(tw, "payload\t%s\n", humanBytes(o.Bytes))
	fmt.Fprintf(tw, "connections\t%d", o.Flows)
	if o.OtherFlows > 0 {
		fmt.Fprintf(tw, " (+%d untracked)", o.OtherFlows)
	}
	fmt.Fprintf(tw, "\nduration\t%s\n", o.Duration.Round(1e6))
	fmt.Fprintf(tw, "retransmissions\t%d (%.2f%% of packets)\n", o.Retrans, o.RetransRate)
	fmt.Fprintf(tw, "detector events\t%d\n", o.Events)
	if o.ZeroWindowFlows > 0 {
		fmt.Fprintf(tw, "zero window\t%s over %s\n", seconds(o.ZeroWindowMS), plural(o.ZeroWindowFlows, "connection"))
	}
	fmt.Fprintf(tw, "kernel samples\t%v\n", o.KernelSamples)
	if o.KernelCheck != nil {
		fmt.Fprintf(tw, "kernel check\t%s\n", o.KernelCheck)
	}
	if o.LimitsCheck != nil {
		fmt.Fprintf(tw, "limits check\t%s\n", o.LimitsCheck)
	}
	if len(o.Limits) > 0 {
		fmt.Fprintf(tw, "\nWORST (the connections to look at first, and what limited them)\n")
		for _, v := range o.Limits {
			fmt.Fprintf(tw, "#%d %s → %s (%s): %s\n", v.Flow, textsafe.Printable(v.Client), textsafe.Printable(v.Server), v.Dir, v.Line())
		}
	}
	if len(o.EventCounts) > 0 {
		fmt.Fprintf(tw, "\nEVENT\tCOUNT\n")
		for _, kv := range o.EventCounts {
			fmt.Fprintf(tw, "%s\t%d\n", textsafe.Printable(kv.Name), kv.Count)
		}
	}
	if len(r.Processes) > 0 {
		fmt.Fprintf(tw, "\nPID\tCOMM\tCONNS\tBYTES\tRETRANS\n")
		for _, p := range r.Processes {
			fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%d\n", p.PID, textsafe.Printable(p.Comm), p.Flows, humanBytes(p.Bytes), p.Retrans)
		}
	}
	if len(r.Conns) > 0 {
		fmt.Fprintf(tw, "\nFLOW\tPID\tCOMM\tCLIENT\tSERVER\tC2S\tS2C\tMS\tRETRANS\tRTT_AVG\tSTATE\tEND\tLIMIT\tZERO_WIN\n")
		for i, c := range r.Conns {
			if i == 50 {
				fmt.Fprintf(tw, "... %d more (use --format csv for all)\n", len(r.Conns)-50)
				break
			}
			pid := "-"
			if c.PID != 0 {
				pid = strconv.FormatUint(uint64(c.PID), 10)
			}
			comm := c.Comm
			if comm == "" {
				comm = "-"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f\t%d\t%s\t%s\t%s\t%s\t%s\n", c.Flow, pid, textsafe.Printable(comm),
				textsafe.Printable(c.Client), textsafe.Printable(c.Server), humanBytes(c.BytesC2S()), humanBytes(c.BytesS2C()),
				c.DurationMS, c.Retrans, fmtMS(c.RTTAvg), orDash(c.State), orDash(events.ConnStateText(c.State)), orDash(c.Limit()),
				events.ZeroWindowLabel(c.ZeroWindowMS, c.ZeroWindowShare))
		}
	}
	for _, m := range r.Missing {
		fmt.Fprintf(tw, "\nnot drawn: %s", m)
	}
	if len(r.Missing) > 0 {
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}
