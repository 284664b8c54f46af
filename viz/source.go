package viz

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/driver"
	"github.com/tcpviz/tcpviz/internal/pipeline"
)

// Session file names (as parse-pcap writes them).
const (
	sessionEvents  = "events.jsonl"
	sessionFlows   = "flows.jsonl"
	sessionSummary = "summary.json"
)

// Input is everything a report is built from.
type Input struct {
	Collector *Collector
	Flows     []events.FlowRecord
	Summary   events.Summary
	Dir       string   // session directory the input came from ("" for a bare capture)
	Source    string   // what was read, for the page header
	NoPackets bool     // built from events only
	Notes     []string // what the user should know (e.g. the capture is gone)
}

// LoadOptions say how to read an input.
type LoadOptions struct {
	Pipeline pipeline.Config // detectors etc., as parse-pcap configures them
	Limits   Limits
	Filter   Filter
	Progress func(done, size int64)
	// Segments, when set, is fed every packet and event too (the
	// connection pages' per-segment data).
	Segments *Segments
	// Sinks are fed the capture's packets and events too (pairing's
	// recorder); an input without packets feeds them nothing.
	Sinks []pipeline.Sink
}

// Load reads a session directory, a capture file or an events.jsonl file.
// A session directory is re-read from its capture (summary.json's input) so
// the packet charts can be drawn; when the capture is gone the report is
// built from events.jsonl and flows.jsonl alone.
func Load(ctx context.Context, path string, o LoadOptions) (*Input, error) {
	if err := o.Filter.Compile(); err != nil {
		return nil, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("report input: %w", err)
	}
	if st.IsDir() {
		return loadSession(ctx, path, o)
	}
	jsonl, err := looksLikeJSONL(path)
	if err != nil {
		return nil, err
	}
	if jsonl {
		in := &Input{Dir: filepath.Dir(path), Source: path}
		if err := in.readEvents(path, filepath.Join(filepath.Dir(path), sessionFlows), o); err != nil {
			return nil, err
		}
		in.readSummary(filepath.Join(filepath.Dir(path), sessionSummary))
		return in, nil
	}
	return loadCapture(ctx, path, o)
}

func looksLikeJSONL(path string) (bool, error) {
	if strings.HasSuffix(path, ".jsonl") || strings.HasSuffix(path, ".json") {
		return true, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("report input: %w", err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := io.ReadFull(f, b); err != nil {
		if err == io.EOF {
			// Empty: the capture reader names it (offset 0, not a capture).
			return false, nil
		}
		return false, fmt.Errorf("report input %s: %w", path, err)
	}
	return b[0] == '{', nil
}

func loadSession(ctx context.Context, dir string, o LoadOptions) (*Input, error) {
	var sum events.Summary
	sumPath := filepath.Join(dir, sessionSummary)
	b, err := os.ReadFile(sumPath)
	if err != nil {
		return nil, fmt.Errorf("session %s: %w", dir, err)
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		return nil, fmt.Errorf("%s: %w", sumPath, err)
	}
	if sum.Input != "" && sum.Input != "-" {
		if _, err := os.Stat(sum.Input); err == nil {
			in, err := loadCapture(ctx, sum.Input, o)
			if err != nil {
				return nil, err
			}
			in.Dir = dir
			return in, nil
		}
	}
	in := &Input{Dir: dir, Source: filepath.Join(dir, sessionEvents), Summary: sum, NoPackets: true}
	why := "the session does not name its capture"
	if sum.Input == "-" {
		why = "the capture was read from standard input"
	} else if sum.Input != "" {
		why = fmt.Sprintf("the capture %s is gone", sum.Input)
	}
	in.Notes = append(in.Notes, why+": built from events.jsonl and flows.jsonl; charts that need packets (time-sequence, throughput, traffic) are missing")
	if err := in.readEvents(filepath.Join(dir, sessionEvents), filepath.Join(dir, sessionFlows), o); err != nil {
		return nil, err
	}
	in.Summary = sum
	return in, nil
}

// loadCapture runs the pipeline over a capture with a Collector attached.
func loadCapture(ctx context.Context, path string, o LoadOptions) (*Input, error) {
	c := NewCollector(o.Limits, o.Filter)
	in := &Input{Collector: c, Source: path}
	sinks := []pipeline.Sink{c}
	if o.Segments != nil {
		sinks = append(sinks, o.Segments)
	}
	sinks = append(sinks, o.Sinks...)
	src := driver.Source{Path: path, Pipeline: o.Pipeline, KeepFlows: true}
	if o.Progress != nil {
		src.Progress = func(done, size int64, _ uint64) { o.Progress(done, size) }
	}
	run, err := driver.Run(ctx, src, sinks...)
	if err != nil {
		return nil, err
	}
	in.Flows = run.Flows
	in.Summary = run.Summary(path)
	in.Notes = append(in.Notes, run.Stats.Warnings...)
	return in, nil
}

// readEvents fills the input from events.jsonl (and flows.jsonl when it
// exists). Packet records written with --packets are used as packets.
func (in *Input) readEvents(evPath, flPath string, o LoadOptions) error {
	c := NewCollector(o.Limits, o.Filter)
	in.Collector = c
	f, err := os.Open(evPath)
	if err != nil {
		return fmt.Errorf("report input: %w", err)
	}
	defer f.Close()
	sawPackets := false
	err = eachLine(f, evPath, func(line []byte) error {
		if bytes.Contains(line[:min(len(line), 40)], []byte(`"type":"packet"`)) {
			var pr events.PacketRecord
			if err := json.Unmarshal(line, &pr); err != nil {
				return err
			}
			var p events.Packet
			if packetFromRecord(&pr, &p) {
				sawPackets = true
				c.Packet(&p)
				if o.Segments != nil {
					o.Segments.Packet(&p)
				}
			}
			return nil
		}
		var e events.Event
		if err := json.Unmarshal(line, &e); err != nil {
			return err
		}
		c.Event(&e)
		if o.Segments != nil {
			o.Segments.Event(&e)
		}
		return nil
	})
	if err != nil {
		return err
	}
	in.NoPackets = !sawPackets
	if !sawPackets && len(in.Notes) == 0 {
		in.Notes = append(in.Notes, "events.jsonl has no packet records: charts that need packets (time-sequence, throughput, traffic) are missing")
	}
	ff, err := os.Open(flPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("report input: %w", err)
	}
	defer ff.Close()
	return eachLine(ff, flPath, func(line []byte) error {
		var r events.FlowRecord
		if err := json.Unmarshal(line, &r); err != nil {
			return err
		}
		in.Flows = append(in.Flows, r)
		return nil
	})
}

func (in *Input) readSummary(path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	_ = json.Unmarshal(b, &in.Summary) // optional: headline figures fall back to the collector's
}

// eachLine calls fn for each non-empty line; errors name the file and the
// byte offset of the line.
func eachLine(r io.Reader, name string, fn func([]byte) error) error {
	br := bufio.NewReaderSize(r, 1<<20)
	var off int64
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			trimmed := bytes.TrimSpace(line)
			if len(trimmed) > 0 {
				if ferr := fn(trimmed); ferr != nil {
					return fmt.Errorf("%s: offset %d: %w", name, off, ferr)
				}
			}
			off += int64(len(line))
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: offset %d: %w", name, off, err)
		}
	}
}

// packetFromRecord rebuilds the fields the Collector uses from a packet
// record. Sequence numbers are relative (ISN 0); SACK blocks in records are
// relative to the peer's ISN, which matches.
func packetFromRecord(r *events.PacketRecord, p *events.Packet) bool {
	src, err1 := netip.ParseAddrPort(r.Src)
	dst, err2 := netip.ParseAddrPort(r.Dst)
	if err1 != nil || err2 != nil {
		return false
	}
	*p = events.Packet{Frame: r.Frame, TS: int64(r.TS), Src: src.Addr(), SrcPort: src.Port(),
		Dst: dst.Addr(), DstPort: dst.Port(), Seq: r.RelSeq, Ack: r.RelAck, RelSeq: r.RelSeq, RelAck: r.RelAck,
		Len: r.Len, Window: r.Window, Flow: r.Flow, Dir: r.Dir, WindowScaled: -1}
	if r.WindowScaled != nil {
		p.WindowScaled = *r.WindowScaled
	}
	for _, ch := range r.Flags {
		switch ch {
		case 'S':
			p.Flags |= events.FlagSYN
		case 'F':
			p.Flags |= events.FlagFIN
		case 'R':
			p.Flags |= events.FlagRST
		case 'P':
			p.Flags |= events.FlagPSH
		case '.':
			p.Flags |= events.FlagACK
		case 'U':
			p.Flags |= events.FlagURG
		case 'E':
			p.Flags |= events.FlagECE
		case 'W':
			p.Flags |= events.FlagCWR
		}
	}
	for i, b := range r.SACK {
		if i == len(p.Options.SACK) {
			break
		}
		p.Options.SACK[i] = events.SACKBlock{Left: b[0], Right: b[1]}
		p.Options.NumSACK++
	}
	return true
}
