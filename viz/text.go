package viz

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/conntable"
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
	Conns           []json.RawMessage   `json:"connections_list"` // conntable.SummaryView
	Missing         []string            `json:"missing,omitempty"`
	NoMatch         string              `json:"no_match,omitempty"`
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

func (r *Report) writeJSON(w io.Writer) error {
	conns, err := conntable.JSONRows(r.Conns, summaryTable)
	if err != nil {
		return err
	}
	o := r.Overview
	doc := summaryJSON{Title: r.Title, Source: r.Source, Packets: o.Packets, Bytes: o.Bytes, Connections: o.Flows,
		Untracked: o.OtherFlows, DurationMS: float64(o.Duration) / 1e6, Headline: o.Headline, EventsTotal: o.Events, Events: map[string]int{},
		KernelCheck: o.KernelCheck, Limits: o.Limits, LimitsCheck: o.LimitsCheck,
		ZeroWindowMS: o.ZeroWindowMS, ZeroWindowFlows: o.ZeroWindowFlows,
		Retrans: o.Retrans, RetransPct: o.RetransRate, Kernel: o.KernelSamples, Processes: r.Processes,
		Conns: conns, Missing: r.Missing, NoMatch: r.NoMatch}
	for _, kv := range o.EventCounts {
		doc.Events[kv.Name] = kv.Count
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// summaryTable is the connections table's options: the summary's view of
// the connection columns (tcpviz flows has the same columns).
var summaryTable = conntable.Options{View: &conntable.SummaryView, Header: true}

func (r *Report) writeCSV(w io.Writer) error {
	o := summaryTable
	o.Format = conntable.FormatCSV
	return conntable.Write(w, r.Conns, o)
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
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Conns) > 0 {
		fmt.Fprintln(w)
		o := summaryTable
		o.Format = conntable.FormatText
		if err := conntable.Write(w, r.Conns[:min(len(r.Conns), 50)], o); err != nil {
			return err
		}
		if len(r.Conns) > 50 {
			fmt.Fprintf(w, "... %d more (use --format csv for all)\n", len(r.Conns)-50)
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
