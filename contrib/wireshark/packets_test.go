package wireshark

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/tcpviz/tcpviz/detectors"
	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/testutil/tsharkoracle"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// ourRun is what tcpviz's own pipeline makes of a capture: every TCP packet
// with its 4-tuple and connection, and every event.
type ourRun struct {
	packets map[uint64]ourPacket
	events  []events.Event
}

type ourPacket struct {
	ts       int64
	src, dst netip.AddrPort
	flow     uint64
}

func (o *ourRun) Packet(p *events.Packet) {
	o.packets[p.Frame] = ourPacket{ts: p.TS, src: netip.AddrPortFrom(p.Src, p.SrcPort), dst: netip.AddrPortFrom(p.Dst, p.DstPort), flow: p.Flow}
}

func (o *ourRun) Event(e *events.Event) { o.events = append(o.events, *e) }

func runOurs(t *testing.T, path string) *ourRun {
	t.Helper()
	o := &ourRun{packets: make(map[uint64]ourPacket)}
	det := func(emit func(*events.Event)) pipeline.Detector {
		return detectors.New(detectors.DefaultConfig(), emit)
	}
	if err := tsharkoracle.RunPipeline(path, det, o); err != nil {
		t.Fatal(err)
	}
	return o
}

// carriesState reports whether a record's congestion state is copied onto
// packets: probes, and retransmit records that carry it.
func carriesState(k *kframe) bool {
	return k.err == nil && (k.rec.Kind == kblock.KindProbe || k.rec.Kind == kblock.KindRetransmit && k.rec.SndCwnd != 0)
}

// pktSource is, for one TCP packet, the kernel record whose values the
// plugin must copy onto it: the newest state-carrying record (by frame
// number) of the socket that sent the packet, else of the socket that
// received it.
type pktSource struct {
	k    *kframe
	sent bool
}

func packetSources(kfs []kframe, o *ourRun) map[uint64]pktSource {
	type sockKey struct{ local, remote netip.AddrPort }
	bySock := make(map[sockKey][]*kframe) // in frame order
	for i := range kfs {
		if k := &kfs[i]; carriesState(k) {
			s := sockKey{netip.AddrPortFrom(k.rec.Saddr, k.rec.Sport), netip.AddrPortFrom(k.rec.Daddr, k.rec.Dport)}
			bySock[s] = append(bySock[s], k)
		}
	}
	newest := func(s sockKey, frame uint64) *kframe {
		l := bySock[s]
		i := sort.Search(len(l), func(i int) bool { return l[i].frame >= frame })
		if i == 0 {
			return nil
		}
		return l[i-1]
	}
	out := make(map[uint64]pktSource)
	for frame, p := range o.packets {
		if k := newest(sockKey{p.src, p.dst}, frame); k != nil {
			out[frame] = pktSource{k, true}
		} else if k := newest(sockKey{p.dst, p.src}, frame); k != nil {
			out[frame] = pktSource{k, false}
		}
	}
	return out
}

// pktFields are the plugin's tcpviz.pkt.NAME fields copied from records.
func pktFields(all map[string]tsharkField) []string {
	var out []string
	for name, f := range all {
		if strings.HasPrefix(name, "tcpviz.pkt.") && f.typ != "FT_NONE" {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// relNS parses tshark's relative time ("-0.000604342") into ns.
func relNS(s string) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	sec, frac, _ := strings.Cut(strings.TrimPrefix(s, "-"), ".")
	frac = (frac + "000000000")[:9]
	a, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return 0, err
	}
	b, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return 0, err
	}
	if neg {
		return -(a*1e9 + b), nil
	}
	return a*1e9 + b, nil
}

// TestPacketsCarryKernelState: every TCP packet shows, as tcpviz.pkt.*, the
// values of exactly the record our own decoding says (the newest probe or
// retransmit record of its connection by frame number), the same on a
// second dissection pass; display filters on tcpviz.pkt.* select exactly
// the frames our data says; and the cwnd/srtt/ssthresh the detectors put in
// each event's context are the ones on the event's packet.
func TestPacketsCarryKernelState(t *testing.T) {
	ts := newTshark(t)
	all := ts.fields(t)
	names := pktFields(all)
	synth := synthCapture(t)
	for _, path := range append(kernelSamples(t), synth) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			kfs := readKernel(t, path)
			o := runOurs(t, path)
			src := packetSources(kfs, o)
			rows := ts.table(t, path, "tcp", append(slices.Clone(names), "_ws.lua.error"))
			if len(rows) != len(o.packets) {
				t.Fatalf("tshark shows %d TCP frames, tcpviz decodes %d", len(rows), len(o.packets))
			}
			// The second pass re-dissects every frame after the first has
			// seen them all: the values must not depend on that.
			if rows2 := ts.table(t, path, "tcp", append(slices.Clone(names), "_ws.lua.error"), "-2"); !reflect.DeepEqual(rows, rows2) {
				for f, r := range rows {
					if !reflect.DeepEqual(r, rows2[f]) {
						t.Errorf("frame %s: first pass %v, second pass %v", f, r, rows2[f])
						break
					}
				}
			}

			var withState int
			for frame, p := range o.packets {
				row := rows[strconv.FormatUint(frame, 10)]
				if row == nil {
					t.Errorf("frame %d: no tshark row", frame)
					continue
				}
				if row["_ws.lua.error"] != "" {
					t.Errorf("frame %d: Lua error %s", frame, row["_ws.lua.error"])
				}
				s, ok := src[frame]
				if !ok {
					for _, name := range names {
						if row[name] != "" {
							t.Errorf("frame %d: %s = %q, but no kernel record of its connection precedes it", frame, name, row[name])
						}
					}
					continue
				}
				withState++
				want := map[string]string{
					"tcpviz.pkt.frame": strconv.FormatUint(s.k.frame, 10),
					"tcpviz.pkt.kind":  strconv.Itoa(int(s.k.rec.Kind)),
					"tcpviz.pkt.sent":  map[bool]string{false: "0", true: "1"}[s.sent],
				}
				for name, v := range kblockJSON(t, &s.k.rec) {
					if _, ok := all["tcpviz.pkt."+name]; ok {
						want["tcpviz.pkt."+name] = v
					}
				}
				for _, name := range names {
					got, err := canon(all[name].typ, row[name])
					if err != nil {
						t.Errorf("frame %d: %s = %q: %v", frame, name, row[name], err)
						continue
					}
					if name == "tcpviz.pkt.age" {
						age, err := relNS(row[name])
						if err != nil || age != p.ts-s.k.rec.TS {
							t.Errorf("frame %d: age %q, want %d ns (packet %d - record %d)", frame, row[name], p.ts-s.k.rec.TS, p.ts, s.k.rec.TS)
						}
						continue
					}
					w, ok := want[name]
					switch {
					case !ok && (got == "" || got == "0"):
					case got != w:
						t.Errorf("frame %d: %s = %q, want %q (from the record in frame %d)", frame, name, got, w, s.k.frame)
					}
				}
			}
			if withState == 0 {
				t.Fatal("no packet follows a kernel record: nothing compared")
			}
			t.Logf("%d of %d TCP packets carry kernel state, %d fields compared on each", withState, len(o.packets), len(names))
			if path != synth {
				checkFilters(t, ts, path, o, src) // on real data: each run costs a tshark pass
			}
			checkEventContext(t, o, rows)
		})
	}
}

// median returns the middle of the values of f over the packets with state.
func median(src map[uint64]pktSource, f func(*kblock.Record) uint32) uint32 {
	var v []uint32
	for _, s := range src {
		v = append(v, f(&s.k.rec))
	}
	slices.Sort(v)
	return v[len(v)/2]
}

// checkFilters runs display filters on tcpviz.pkt.* and compares the frames
// they select with those our own decoding and events select. Thresholds are
// the medians of the capture, so each filter splits the packets.
func checkFilters(t *testing.T, ts *tshark, path string, o *ourRun, src map[uint64]pktSource) {
	t.Helper()
	cwnd := median(src, func(r *kblock.Record) uint32 { return r.SndCwnd })
	srtt := median(src, func(r *kblock.Record) uint32 { return r.SRTTus })
	retrans := make(map[uint64]bool) // our own retransmission events
	for _, e := range o.events {
		if e.Type == events.TypeRetransmission {
			retrans[e.Frame] = true
		}
	}
	type filter struct {
		expr string
		want func(frame uint64, s pktSource, ok bool) bool
	}
	filters := []filter{
		{"tcpviz.pkt", func(_ uint64, _ pktSource, ok bool) bool { return ok }},
		{fmt.Sprintf("tcpviz.pkt.snd_cwnd < %d", cwnd), func(_ uint64, s pktSource, ok bool) bool { return ok && s.k.rec.SndCwnd < cwnd }},
		{fmt.Sprintf("tcpviz.pkt.srtt_us > %d && tcpviz.pkt.sent == 1", srtt), func(_ uint64, s pktSource, ok bool) bool {
			return ok && s.sent && s.k.rec.SRTTus > srtt
		}},
		{fmt.Sprintf("tcpviz.pkt.snd_cwnd < %d && tcp.analysis.retransmission", cwnd), func(f uint64, s pktSource, ok bool) bool {
			return ok && s.k.rec.SndCwnd < cwnd && retrans[f]
		}},
		{"tcpviz.pkt.kind == 2", func(_ uint64, s pktSource, ok bool) bool { return ok && s.k.rec.Kind == kblock.KindRetransmit }},
	}
	cas := make(map[uint8]bool)
	for _, s := range src {
		cas[s.k.rec.CAState] = true
	}
	for ca := range cas {
		filters = append(filters, filter{fmt.Sprintf("tcpviz.pkt.ca_state == %d", ca), func(_ uint64, s pktSource, ok bool) bool {
			return ok && s.k.rec.CAState == ca
		}})
	}
	for _, f := range filters {
		got := make(map[uint64]bool)
		for _, s := range ts.frames(t, path, f.expr) {
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				t.Fatalf("%s: frame %q", f.expr, s)
			}
			got[n] = true
		}
		var want, missing, extra []uint64
		for frame := range o.packets {
			s, ok := src[frame]
			w := f.want(frame, s, ok)
			if w {
				want = append(want, frame)
			}
			if w && !got[frame] {
				missing = append(missing, frame)
			}
			if !w && got[frame] {
				extra = append(extra, frame)
			}
		}
		for frame := range got {
			if _, ok := o.packets[frame]; !ok {
				extra = append(extra, frame)
			}
		}
		slices.Sort(missing)
		slices.Sort(extra)
		if len(missing)+len(extra) > 0 {
			t.Errorf("%q selects %d frames, our data %d: missing %v, extra %v", f.expr, len(got), len(want), head(missing), head(extra))
		} else {
			t.Logf("%q selects the %d frames our data says", f.expr, len(want))
		}
	}
}

// checkEventContext: the kernel cwnd, srtt and ssthresh in the context of
// each of our events on a packet are the plugin's tcpviz.pkt.* on it.
func checkEventContext(t *testing.T, o *ourRun, rows map[string]map[string]string) {
	t.Helper()
	n := 0
	for _, e := range o.events {
		p, ok := o.packets[e.Frame]
		if strings.HasPrefix(e.Type, "kernel_") || !ok || p.flow != e.Flow || p.src.String() != e.Src {
			continue // not an event about this very packet
		}
		row := rows[strconv.FormatUint(e.Frame, 10)]
		for name, want := range map[string]uint32{"tcpviz.pkt.snd_cwnd": e.Context.KernelCwnd,
			"tcpviz.pkt.srtt_us": e.Context.KernelSRTTus, "tcpviz.pkt.ssthresh": e.Context.KernelSsthr} {
			got := row[name]
			if got == "" {
				got = "0"
			}
			if got != strconv.FormatUint(uint64(want), 10) {
				t.Errorf("%s event in frame %d: context %d, plugin's %s %s", e.Type, e.Frame, want, name, got)
			}
		}
		n++
	}
	if n == 0 {
		t.Error("no event on a packet: the context comparison compared nothing")
	}
	t.Logf("kernel context of %d events equals the plugin's per-packet values", n)
}

func head(v []uint64) []uint64 {
	if len(v) > 10 {
		return v[:10]
	}
	return v
}
