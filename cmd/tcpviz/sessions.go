package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tcpviz/tcpviz/internal/session"
)

func init() {
	register(&command{
		name:    "sessions",
		summary: "list, show and clean the session directories under out/",
		usage: `  tcpviz sessions list  [--base DIR] [--json]
  tcpviz sessions show  [ID|latest] [--base DIR] [--json]
  tcpviz sessions clean [--base DIR] [--yes] [--dry-run]

  Every command that writes results makes a new out/session_YYYYmmdd_HHMMSS/
  directory. list prints one line per session: time, capture size, packets,
  flows, events (detector findings), alerts and whether a report exists.
  show prints one session's figures and files ("latest": the newest complete
  one). clean removes empty and incomplete sessions (no summary.json), except
  those changed in the last two minutes (a capture may still be running);
  it asks first unless --yes.

Examples:
  tcpviz sessions list
  tcpviz sessions show latest
  tcpviz sessions show session_20260102_030405
  tcpviz sessions clean --dry-run
  tcpviz sessions clean --yes --base /data/tcpviz
`,
		run: runSessions,
	})
}

// busyWindow protects sessions that may still be written to from clean.
const busyWindow = 2 * time.Minute

func runSessions(args []string) error {
	c := commands["sessions"]
	fs := newFlags(c)
	base := fs.String("base", session.DefaultBase, "directory that holds the sessions")
	asJSON := fs.Bool("json", false, "list, show: JSON (one object per session)")
	yes := fs.BoolP("yes", "y", false, "clean: remove without asking")
	dryRun := fs.BoolP("dry-run", "n", false, "clean: only print what would be removed")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("want a subcommand: list, show or clean")
	}
	sub, rest := fs.Arg(0), fs.Args()[1:]
	switch sub {
	case "list", "ls":
		if len(rest) > 0 {
			return usagef("list: unexpected arguments: %s", strings.Join(rest, " "))
		}
		list, err := session.List(*base)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSONLines(os.Stdout, list)
		}
		if len(list) == 0 {
			fmt.Fprintf(os.Stderr, "no sessions under %s\n", *base)
			return nil
		}
		return writeSessionList(os.Stdout, list)
	case "show":
		if len(rest) > 1 {
			return usagef("show: want at most one session ID, got %s", strings.Join(rest, " "))
		}
		id := session.Latest
		if len(rest) == 1 {
			id = rest[0]
		}
		info, err := session.Resolve(*base, id)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSONLines(os.Stdout, []session.Info{info})
		}
		return writeSessionShow(os.Stdout, info)
	case "clean":
		if len(rest) > 0 {
			return usagef("clean: unexpected arguments: %s", strings.Join(rest, " "))
		}
		return cleanSessions(*base, *yes, *dryRun, os.Stdin)
	}
	return usagef("unknown subcommand %q: want list, show or clean", sub)
}

func cleanSessions(base string, yes, dryRun bool, stdin io.Reader) error {
	list, err := session.List(base)
	if err != nil {
		return err
	}
	remove, inUse := session.Cleanable(list, time.Now(), busyWindow)
	for _, s := range inUse {
		fmt.Fprintf(os.Stderr, "keeping %s: changed %s ago, may still be in use\n", s.Dir, time.Since(s.Modified).Round(time.Second))
	}
	if len(remove) == 0 {
		fmt.Fprintf(os.Stderr, "nothing to clean under %s\n", base)
		return nil
	}
	for _, s := range remove {
		why := "incomplete (no summary.json)"
		switch {
		case s.Empty():
			why = "empty"
		case s.Problem != "":
			why = "unreadable summary: " + s.Problem
		}
		fmt.Fprintf(os.Stderr, "%s  %s, %d files, %s\n", s.Dir, why, s.Files, humanBytes(float64(s.Bytes)))
	}
	if dryRun {
		for _, s := range remove {
			fmt.Println(s.Dir)
		}
		fmt.Fprintf(os.Stderr, "dry run: %d sessions would be removed\n", len(remove))
		return nil
	}
	if !yes {
		fmt.Fprintf(os.Stderr, "remove %d sessions? [y/N] ", len(remove))
		answer, _ := bufio.NewReader(stdin).ReadString('\n')
		answer = strings.ToLower(strings.TrimSpace(answer))
		if answer != "y" && answer != "yes" {
			fmt.Fprintln(os.Stderr, "nothing removed")
			return nil
		}
	}
	for _, s := range remove {
		if err := session.Remove(s); err != nil {
			return err
		}
		fmt.Println(s.Dir)
	}
	fmt.Fprintf(os.Stderr, "removed %d sessions\n", len(remove))
	return nil
}

func writeJSONLines[T any](w io.Writer, items []T) error {
	enc := json.NewEncoder(w)
	for i := range items {
		if err := enc.Encode(&items[i]); err != nil {
			return fmt.Errorf("write JSON: %w", err)
		}
	}
	return nil
}

func sessionStatus(s *session.Info) string {
	switch {
	case s.Complete:
		return "ok"
	case s.Empty():
		return "empty"
	}
	return "incomplete"
}

func writeSessionList(w io.Writer, list []session.Info) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tSTATUS\tCAPTURE\tPACKETS\tFLOWS\tEVENTS\tALERTS\tREPORT")
	for i := range list {
		s := &list[i]
		capture, packets, flows, evs := "-", "-", "-", "-"
		if s.CaptureBytes > 0 {
			capture = humanBytes(float64(s.CaptureBytes))
		}
		if s.Complete {
			packets, flows, evs = fmt.Sprint(s.Packets), fmt.Sprint(s.Flows), fmt.Sprint(s.Events)
		}
		report := "no"
		if s.Report {
			report = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", s.ID, s.Time.Format("2006-01-02 15:04:05"),
			sessionStatus(s), capture, packets, flows, evs, s.Alerts, report)
	}
	return tw.Flush()
}

func writeSessionShow(w io.Writer, s session.Info) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("session", s.ID)
	row("directory", s.Dir)
	row("time", s.Time.Format("2006-01-02 15:04:05 MST"))
	row("status", sessionStatus(&s))
	if s.Problem != "" {
		row("problem", s.Problem)
	}
	if s.Capture != "" {
		row("capture", fmt.Sprintf("%s (%s)", s.Capture, humanBytes(float64(s.CaptureBytes))))
	}
	if sum := s.Summary; sum != nil {
		row("format", sum.Format)
		if sum.FirstPacket != 0 {
			first, last := sum.FirstPacket.Time().Local(), sum.LastPacket.Time().Local()
			row("traffic", fmt.Sprintf("%s to %s (%s)", first.Format("2006-01-02 15:04:05.000"),
				last.Format("15:04:05.000"), last.Sub(first).Round(time.Millisecond)))
		}
		row("packets", fmt.Sprintf("%d (%d TCP), %d kernel records", sum.Packets, sum.TCPPackets, sum.KernelRecords))
		row("flows", fmt.Sprint(sum.Flows))
		row("events", fmt.Sprintf("%d%s", s.Events, eventBreakdown(sum.Events)))
		for _, warn := range sum.Warnings {
			row("warning", warn)
		}
	}
	row("alerts", fmt.Sprint(s.Alerts))
	report := "no"
	if s.Report {
		report = filepath.Join(s.Dir, "report.html")
	}
	row("report", report)
	if err := tw.Flush(); err != nil {
		return err
	}
	ents, err := os.ReadDir(s.Dir)
	if err != nil {
		return fmt.Errorf("session %s: %w", s.Dir, err)
	}
	fmt.Fprintln(w, "files:")
	for _, e := range ents {
		if fi, err := e.Info(); err == nil {
			fmt.Fprintf(w, "  %-24s %10s\n", e.Name(), humanBytes(float64(fi.Size())))
		}
	}
	return nil
}

// eventBreakdown is " (retransmission 12, dup_ack 40)", largest first.
func eventBreakdown(m map[string]int) string {
	type kv struct {
		k string
		v int
	}
	var list []kv
	for k, v := range m {
		if v > 0 {
			list = append(list, kv{k, v})
		}
	}
	if len(list) == 0 {
		return ""
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].v != list[j].v {
			return list[i].v > list[j].v
		}
		return list[i].k < list[j].k
	})
	parts := make([]string, len(list))
	for i, e := range list {
		parts[i] = fmt.Sprintf("%s %d", e.k, e.v)
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
