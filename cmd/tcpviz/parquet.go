package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/driver"
	"github.com/tcpviz/tcpviz/internal/parquetout"
	"github.com/tcpviz/tcpviz/internal/session"
	"github.com/tcpviz/tcpviz/internal/sessionfiles"
)

func init() {
	register(&command{
		name:    "export",
		summary: "convert sessions into Parquet tables for DuckDB, Spark, Trino",
		usage: `  tcpviz export --format parquet --out DIR [--host NAME] [--packets] SESSION...

  SESSION is a session directory (or an ID under --base, or latest). Its
  events.jsonl and flows.jsonl are written as the Parquet tables events,
  flows, kernel (and packets, with --packets, when the session has them) in
  a Hive-partitioned tree under DIR:
  table=T/date=YYYY-MM-DD/host=H/part-*.parquet (docs/parquet.md).
  Exporting the same session again replaces its files.

Examples:
  tcpviz export --format parquet --out /data/tcpviz latest
  tcpviz export --format parquet --out /data/tcpviz --host web-1 out/session_*
  duckdb -c "SELECT type, count(*) FROM read_parquet('/data/tcpviz/table=events/*/*/*.parquet', hive_partitioning=true) GROUP BY 1"
`,
		run: runExport,
	})
}

// parquetFlags are the flags parse-pcap and analyze share for Parquet output.
type parquetFlags struct {
	dir     *string
	host    *string
	packets *bool
}

func addParquetFlags(fs *pflag.FlagSet) *parquetFlags {
	return &parquetFlags{
		dir:  fs.String("parquet", "", "also write Parquet tables (events, flows, kernel) under DIR (docs/parquet.md)"),
		host: fs.String("host", "", "host=NAME partition of the Parquet output (default: this machine's host name)"),
		packets: fs.Bool("parquet-packets", false,
			"also write the packets table (one row per TCP packet) with --parquet"),
	}
}

// run runs the session files' pass over o.Input (sessionfiles.Run), with
// the Parquet tables written from the same pass when --parquet is given.
// done is called when the pass ends (it clears the progress bar). It returns
// the Parquet files apart, for the caller to list them where it lists them;
// a failed pass leaves no Parquet files.
func (f *parquetFlags) run(ctx context.Context, o sessionfiles.Options, done func()) (*sessionfiles.Result, []string, error) {
	pq, err := f.attach(&o)
	if err != nil {
		return nil, nil, err
	}
	res, err := sessionfiles.Run(ctx, o)
	done()
	if pq == nil {
		return res, nil, err
	}
	if err != nil {
		pq.Abort()
		return nil, nil, err
	}
	if err := pq.Close(); err != nil {
		return nil, nil, err
	}
	return res, pq.Files(), nil
}

// attach adds a Parquet writer to a run; nil when --parquet is not given.
func (f *parquetFlags) attach(o *sessionfiles.Options) (*parquetout.Writer, error) {
	if *f.dir == "" {
		return nil, nil
	}
	w, err := parquetout.New(parquetout.Config{Dir: *f.dir, Host: *f.host, Packets: *f.packets,
		Stem: parquetout.StemFor(o.Input)})
	if err != nil {
		return nil, err
	}
	w.SetCaptureFile(driver.InputPath(o.Input))
	// A directory or pattern names several captures: each row names its own.
	prevFile := o.OnFile
	o.OnFile = func(path string) {
		w.SetCaptureFile(driver.InputPath(path))
		if prevFile != nil {
			prevFile(path)
		}
	}
	o.Sinks = append(o.Sinks, w)
	prev := o.Pipeline.OnFlow
	o.Pipeline.OnFlow = func(r *events.FlowRecord) {
		w.Flow(r)
		if prev != nil {
			prev(r)
		}
	}
	return w, nil
}

func runExport(args []string) error {
	c := commands["export"]
	fs := newFlags(c)
	format := fs.String("format", "parquet", "output format (parquet)")
	out := fs.String("out", "", "root directory of the Parquet tables")
	host := fs.String("host", "", "host=NAME partition (default: this machine's host name)")
	base := fs.String("base", session.DefaultBase, "directory that holds the sessions (for IDs)")
	packets := fs.Bool("packets", false, "also write the packets table when the session has packet records")
	quiet := fs.BoolP("quiet", "q", false, "do not list the files written")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *format != "parquet" {
		return usagef("--format %q: only parquet is supported", *format)
	}
	if *out == "" {
		return usagef("--out is required (the root of the Parquet tables)")
	}
	if fs.NArg() == 0 {
		return usagef("name at least one session (a directory, an ID, or latest)")
	}
	// A dataset root gathers sessions by design: only a symlink is refused.
	if _, err := session.OutDir(*out, false, true); err != nil {
		return err
	}
	var files []string
	for _, arg := range fs.Args() {
		dir, err := sessionDir(*base, arg)
		if err != nil {
			return err
		}
		got, err := exportSession(dir, *out, *host, *packets)
		if err != nil {
			return err
		}
		files = append(files, got...)
	}
	if !*quiet {
		fmt.Println(strings.Join(files, "\n"))
	}
	return nil
}

// sessionDir accepts a directory path or an ID/latest under base.
func sessionDir(base, arg string) (string, error) {
	if st, err := os.Stat(arg); err == nil && st.IsDir() {
		return arg, nil
	}
	info, err := session.Resolve(base, arg)
	if err != nil {
		return "", err
	}
	return info.Dir, nil
}

func exportSession(dir, out, host string, packets bool) ([]string, error) {
	evPath := filepath.Join(dir, sessionfiles.EventsFile)
	flPath := filepath.Join(dir, sessionfiles.FlowsFile)
	if !exists(evPath) && !exists(flPath) {
		return nil, fmt.Errorf("%s: no %s or %s: not a session directory", dir, sessionfiles.EventsFile, sessionfiles.FlowsFile)
	}
	// capture_file is the capture the session was made from, as parse-pcap
	// --parquet writes it; the session directory when unknown.
	capture, _ := filepath.Abs(dir)
	var sum events.Summary
	if b, err := os.ReadFile(filepath.Join(dir, sessionfiles.SummaryFile)); err == nil && json.Unmarshal(b, &sum) == nil && sum.Input != "" {
		capture = sum.Input
	} else if info, err := session.Stat(dir); err == nil && info.Capture != "" {
		capture = driver.InputPath(info.Capture)
	}
	w, err := parquetout.New(parquetout.Config{Dir: out, Host: host, Packets: packets, Stem: parquetout.StemFor(capture)})
	if err != nil {
		return nil, err
	}
	w.SetCaptureFile(capture)
	if err := parquetout.ExportJSONL(w, evPath, flPath); err != nil {
		w.Abort()
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return w.Files(), nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return !errors.Is(err, os.ErrNotExist)
}
