//go:build linux

package kernelcheck

import (
	"cmp"
	"math"
	"slices"
	"testing"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// The kernel's own RTT samples, read off its srtt. tcp_rtt_estimator
// updates srtt8 (srtt_us, eight times the smoothed RTT) with a sample m as
// srtt8' = srtt8 + m − srtt8>>3, so two probe records of the sender's
// socket that bracket exactly one sample give m = 8·(s1 − s0) + s0, within
// 8 µs (the records carry srtt_us>>3). tcp_probe reads the socket before
// it processes the segment that fired it, so the records bracket one
// sample when exactly one captured ACK moved snd_una between them and no
// ACK in that range carried SACK blocks (a SACK gives a sample too). That
// needs a record for (nearly) every ACK: scenarios that use it capture
// with a 1 ms sample interval.

// rttTrace is what a flow's kernel RTT samples are derived from.
type rttTrace struct {
	probes   []probeRec
	acks     []ackRec           // the server's ACKs, in frame order
	inferred map[uint64]float64 // ACK frame → the rtt_sample it gave (ms)
}

type probeRec struct {
	frame        uint64
	sndUna, srtt uint32 // srtt in µs
}

type ackRec struct {
	frame uint64
	ack   uint32
	sack  bool
}

// rttPair is one ACK's RTT sample as the kernel took it and as tcpviz did.
type rttPair struct{ kernel, inferred float64 } // ms

// traceRTT records what the kernel RTT samples need from the pipeline's
// output: the client's probe records, the ACKs of the client's data and
// the rtt_sample events about that data.
func (r *truthResult) traceRTT(p *events.Packet, e *events.Event) {
	if r.rtt == nil {
		r.rtt = map[uint64]*rttTrace{}
	}
	flow := uint64(0)
	switch {
	case p != nil:
		flow = p.Flow
	case e != nil:
		flow = e.Flow
	}
	tr := r.rtt[flow]
	if tr == nil {
		tr = &rttTrace{inferred: map[uint64]float64{}}
		r.rtt[flow] = tr
	}
	switch {
	case p != nil && p.Dir == events.DirS2C && p.Has(events.FlagACK):
		tr.acks = append(tr.acks, ackRec{frame: p.Frame, ack: p.Ack, sack: p.Options.NumSACK > 0})
	case e != nil && e.Type == events.TypeKernelSample && e.Kernel != nil && e.Kernel.Kind == kblock.KindProbe && e.Dir == events.DirC2S:
		tr.probes = append(tr.probes, probeRec{frame: e.Frame, sndUna: e.Kernel.SndUna, srtt: e.Kernel.SRTTus})
	case e != nil && e.Type == events.TypeRTTSample && e.Dir == events.DirC2S && e.Reason != events.ReasonHandshake:
		tr.inferred[e.Frame] = e.RTTms
	}
}

// kernelRTTSamples returns a flow's kernel RTT samples (ms), one for
// every bracket of records that moved snd_una with no SACK about (a
// bracket of several ACKs counted as one sample: while the application is
// in sendmsg the socket backlog merges them, else two samples read as one
// larger one), and the pairs of kernel and inferred sample of the brackets
// of one ACK that has an rtt_sample event (the events are written about
// once per smoothed RTT: the pairs are a subset picked by time, not value).
func (tr *rttTrace) kernelRTTSamples() (kernel []float64, pairs []rttPair) {
	var adv []ackRec    // the first ACK of each value that moved the ACK forward
	var sackAt []uint32 // the values of the ACKs that carried SACK blocks
	for _, a := range tr.acks {
		if a.sack {
			sackAt = append(sackAt, a.ack)
		}
		if len(adv) == 0 || events.SeqGreater(a.ack, adv[len(adv)-1].ack) {
			adv = append(adv, a)
		}
	}
	in := func(x, lo, hi uint32) bool { return events.SeqGreater(x, lo) && events.SeqLEQ(x, hi) }
	for i := 1; i < len(tr.probes); i++ {
		r0, r1 := tr.probes[i-1], tr.probes[i]
		if !events.SeqGreater(r1.sndUna, r0.sndUna) || r0.srtt == 0 {
			continue
		}
		n, frame := 0, uint64(0)
		for _, a := range adv {
			if in(a.ack, r0.sndUna, r1.sndUna) {
				n, frame = n+1, a.frame
			}
		}
		if n == 0 || slices.ContainsFunc(sackAt, func(s uint32) bool { return s == r0.sndUna || in(s, r0.sndUna, r1.sndUna) }) {
			continue
		}
		m := (8*float64(r1.srtt) - 7*float64(r0.srtt)) / 1000
		if m <= 0 {
			continue
		}
		kernel = append(kernel, m)
		if v, ok := tr.inferred[frame]; ok && n == 1 {
			pairs = append(pairs, rttPair{kernel: m, inferred: v})
		}
	}
	return kernel, pairs
}

// median returns the middle value of xs (the mean of the two middle ones
// for an even count), 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.SortFunc(s, cmp.Compare)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// checkKernelSamples: the inferred RTT samples agree with the kernel's own
// samples of the same ACKs (median within 10 %), and the flows' sample
// medians are logged beside the kernel's samples' median and its srtt
// median: the two kernel figures part as far as the inferred samples' median
// and the kernel's srtt median do.
func checkKernelSamples(t *testing.T, r *truthResult) {
	var kernel []float64
	var pairs []rttPair
	for _, f := range r.flows {
		tr := r.rtt[f.Flow]
		if tr == nil {
			continue
		}
		k, p := tr.kernelRTTSamples()
		kernel, pairs = append(kernel, k...), append(pairs, p...)
		if len(k) > 0 && f.KernelSRTTP50MS > 0 {
			t.Logf("flow %d: kernel RTT samples %d (records %d), median %.3f ms; its srtt median %.3f ms (%+.1f %%); inferred samples %d, median %.3f ms (%+.1f %% off the kernel's samples)",
				f.Flow, len(k), len(tr.probes), median(k), f.KernelSRTTP50MS, 100*(f.KernelSRTTP50MS-median(k))/median(k),
				f.RTTSamples, f.RTTP50MS, 100*(f.RTTP50MS-median(k))/median(k))
		}
	}
	if len(pairs) < 20 {
		t.Fatalf("only %d ACKs with the kernel's RTT sample and an inferred one (kernel samples %d): too few records", len(pairs), len(kernel))
	}
	var ks, is, diff []float64
	for _, p := range pairs {
		ks, is, diff = append(ks, p.kernel), append(is, p.inferred), append(diff, 1000*(p.kernel-p.inferred))
	}
	dev := math.Abs(median(is)-median(ks)) / median(ks)
	t.Logf("RTT samples of the same %d ACKs: kernel median %.3f ms, inferred median %.3f ms (%.1f %% apart); kernel − inferred per ACK: median %.0f µs",
		len(pairs), median(ks), median(is), 100*dev, median(diff))
	if dev > 0.10 {
		t.Errorf("inferred RTT samples median %.3f ms is %.1f %% off the kernel's %.3f ms on the same ACKs", median(is), 100*dev, median(ks))
	}
}
