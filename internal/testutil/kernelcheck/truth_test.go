//go:build linux

package kernelcheck

import (
	"cmp"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/detectors"
	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/driver"
	"github.com/tcpviz/tcpviz/internal/testutil/lab"
	"github.com/tcpviz/tcpviz/internal/testutil/pipecfg"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// truthScenario is one lab transfer captured by tcpviz's capture on the
// sender (the client), with the kernel's records in the file.
type truthScenario struct {
	name  string
	setup func(l *lab.Lab) error
	args  []string                           // labtraffic client arguments besides -c and --cc
	check func(t *testing.T, r *truthResult) // besides checkRTT
	// sample is the capture's kernel sample interval (50 ms when 0); 1 ms
	// gives a record for nearly every ACK of a slow transfer, from which
	// the kernel's own RTT samples are read (checkKernelSamples).
	sample time.Duration
	// rtt is what checkRTT checks; the rest is logged.
	rtt rttChecks
}

// truthResult is what the detectors found in a scenario's capture.
type truthResult struct {
	qdiscDrops uint64 // packets the router's queues dropped towards the server
	// The capture's records lost in the kernel (full ring buffers) and
	// kernel records that reached the file after later packets.
	drops, late uint64
	// The transfer's deltas of the kernel counters of the receiver
	// (server) and the sender (client), by nstat name.
	server, client map[string]uint64
	flows          []events.FlowRecord
	events         map[string]int // by type, kind or reason, and "confirmed"
	causes         map[string]int // kernel retransmit records by cause (segments)
	check          events.RetransCheck
	rtt            map[uint64]*rttTrace // by flow
}

// captureScenario runs s and returns the capture file. With
// TCPVIZ_TRUTH_DIR set the file is kept there.
func captureScenario(t *testing.T, s truthScenario) (path string, res *truthResult) {
	t.Helper()
	l := lab.New(t, lab.Options{NoOffload: true})
	if err := s.setup(l); err != nil {
		t.Fatal(err)
	}
	traffic := lab.BuildTraffic(t)
	dir := os.Getenv("TCPVIZ_TRUTH_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	out := filepath.Join(dir, s.name+".pcapng")
	if _, err := os.Stat(out); err == nil {
		out = filepath.Join(dir, s.name+"-again.pcapng") // a scenario run once more
	}
	srv, err := l.Start(l.Server, traffic, "server", "-l", ":5001")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitOutput("listening on", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	si := cmp.Or(s.sample, 50*time.Millisecond)
	stop := startCapture(t, l, out, si)
	time.Sleep(50 * time.Millisecond)
	server0, client0 := nstat(t, l, l.Server), nstat(t, l, l.Client)
	args := append([]string{"client", "-c", l.ServerAddr.String() + ":5001", "--cc", "cubic"}, s.args...)
	l.Run(l.Client, traffic, args...)
	time.Sleep(300 * time.Millisecond)
	sum := stop()
	res = &truthResult{server: delta(nstat(t, l, l.Server), server0), client: delta(nstat(t, l, l.Client), client0),
		drops: sum.Drops(), late: sum.LateRecords}
	t.Logf("capture: %d packets, kernel records %v, %d lost in the kernel, %d kernel records late", sum.Packets, sum.KernelRecords, res.drops, res.late)
	drops, err := l.QdiscDrops(lab.ToServer)
	if err != nil {
		t.Fatal(err)
	}
	res.qdiscDrops = drops
	return out, res
}

func nstat(t *testing.T, l *lab.Lab, ns string) map[string]uint64 {
	t.Helper()
	m, err := l.Nstat(ns)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// delta returns after - before, counter by counter.
func delta(after, before map[string]uint64) map[string]uint64 {
	d := make(map[string]uint64, len(after))
	for k, v := range after {
		d[k] = v - before[k]
	}
	return d
}

// analyze runs the capture through the pipeline as parse-pcap does.
func analyze(t *testing.T, path string, res *truthResult) {
	t.Helper()
	res.events, res.causes = map[string]int{}, map[string]int{}
	cfg := pipecfg.Detectors()
	cfg.OnFlow = func(r *events.FlowRecord) { res.flows = append(res.flows, *r) }
	sink := sinkFunc(func(p *events.Packet, e *events.Event) {
		res.traceRTT(p, e)
		if e == nil {
			return
		}
		res.events[e.Type]++
		switch {
		case e.Type == events.TypeRetransmission:
			res.events[e.Type+"/"+e.Kind]++
		case e.Type == events.TypeLossInfer && e.Confirmed != nil:
			res.events[fmt.Sprintf("%s/%s/confirmed=%t", e.Type, e.Reason, *e.Confirmed)]++
			if *e.Confirmed && e.Note == detectors.NoteLossPAWS {
				res.events[keyLossPAWS]++
			}
		case e.Type == events.TypeLossInfer:
			res.events[e.Type+"/"+e.Reason]++
		case e.Type == events.TypeKernelRetransmit:
			res.causes[kblock.RetransCause(e.Kernel)] += max(1, int(e.Kernel.Segs))
		}
	})
	run, err := driver.Run(t.Context(), driver.Source{Path: path, Pipeline: cfg}, sink)
	if err != nil {
		t.Fatal(err)
	}
	res.check = run.Stats.KernelRetrans
}

// rttOff reports whether a figure checkRTT checks is more than 10 % off.
func rttOff(t *testing.T, r *truthResult, c rttChecks) bool {
	smoothed, samples := rttDeviations(t, r)
	return (c&rttSamples != 0 && samples > 0.10) || (c&rttSmoothed != 0 && smoothed > 0.10)
}

// keyLossPAWS counts the confirmed losses of late originals the receiver
// discarded by PAWS (also counted under their reason).
const keyLossPAWS = "paws_discard"

// sinkFunc gets every event, and every packet with a nil event.
type sinkFunc func(p *events.Packet, e *events.Event)

func (s sinkFunc) Packet(p *events.Packet) { s(p, nil) }
func (s sinkFunc) Event(e *events.Event)   { s(nil, e) }

// rttChecks says which RTT figures a scenario checks (docs/detectors.md,
// "Which srtt median").
type rttChecks uint8

const (
	// rttSmoothed: the scorecard's smoothed medians (the inferred smoothed
	// RTT and the kernel's srtt at the kernel's records) within 10 %. Not
	// on short bursts, where the kernel's srtt skips samples the packets
	// show (backlog merges, timestamp ticks).
	rttSmoothed rttChecks = 1 << iota
	// rttSamples: each flow's median RTT sample (flows.jsonl rtt_p50_ms)
	// within 10 % of its kernel srtt median (kernel_srtt_p50_ms). Only
	// where queueing sets the RTT: with random loss or reordering a run
	// can part by 10 % (the srtt, a running mean of a skewed distribution,
	// read at the records), and more on a machine loaded enough to add
	// milliseconds of scheduling delay to a 2 ms RTT.
	rttSamples
)

// checkRTT checks the RTT figures c names within 10 %.
func checkRTT(t *testing.T, r *truthResult, c rttChecks) {
	smoothed, samples := rttDeviations(t, r)
	if c&rttSamples != 0 && samples > 0.10 {
		t.Errorf("a flow's RTT samples' median is %.1f %% off the kernel's srtt median", 100*samples)
	}
	if c&rttSmoothed != 0 && smoothed > 0.10 {
		t.Errorf("inferred smoothed RTT median %.3f ms is %.1f %% off the kernel's %.3f ms", r.check.InferredSRTTP50MS, 100*smoothed, r.check.KernelSRTTP50MS)
	}
}

// rttDeviations logs the RTT figures and returns how far apart the
// scorecard's smoothed medians are, and the largest gap between a flow's
// samples' median and its kernel srtt median (flows with at least 20
// samples).
func rttDeviations(t *testing.T, r *truthResult) (smoothed, samples float64) {
	k := r.check
	if k.RTTRecords == 0 || k.KernelSRTTP50MS == 0 {
		t.Fatalf("no kernel srtt to compare: %+v", k)
	}
	smoothed = math.Abs(k.InferredSRTTP50MS-k.KernelSRTTP50MS) / k.KernelSRTTP50MS
	t.Logf("RTT: inferred srtt median %.3f ms, kernel srtt median %.3f ms (%d records), off by %.1f %%",
		k.InferredSRTTP50MS, k.KernelSRTTP50MS, k.RTTRecords, 100*smoothed)
	n := 0
	for _, f := range r.flows {
		if f.KernelSRTTP50MS > 0 && f.RTTSamples >= 20 {
			dev := math.Abs(f.RTTP50MS-f.KernelSRTTP50MS) / f.KernelSRTTP50MS
			samples = max(samples, dev)
			n++
			t.Logf("flow %d: RTT samples %d, median %.3f ms (%.1f %% off the kernel srtt median %.3f ms), p95 %.3f ms",
				f.Flow, f.RTTSamples, f.RTTP50MS, 100*dev, f.KernelSRTTP50MS, f.RTTP95MS)
		}
	}
	if n == 0 {
		t.Fatal("no flow with 20 RTT samples and a kernel srtt median")
	}
	return smoothed, samples
}

// checkKinds: the inferred kinds agree with the kernel's causes on ≥ 95 %
// of the kernel's retransmitted segments.
func checkKinds(t *testing.T, r *truthResult) {
	k := r.check
	t.Logf("retransmissions: kernel %d segments, inferred %d, matched %d (precision %.3f, recall %.3f); kinds agreed %d of %d segments, by kind (fast/rto/tlp/other) kernel %s, inferred %s; loss episodes kernel %d, inferred %d; kernel causes %v",
		k.Kernel, k.Inferred, k.Matched, k.Precision, k.Recall, k.KindsAgreed, k.KindsCompared, k.KernelKinds, k.InferredKinds,
		k.KernelLossEpisodes, k.InferredLossEpisodes, r.causes)
	// Every inferred retransmission is the kernel's and the other way
	// round (both 1.000 in 35 runs of reordering and random loss, 0.997
	// the lowest precision); 0.9 as the kernel comparison test has it.
	if k.Kernel > 0 && (k.Precision < 0.9 || k.Recall < 0.9) {
		t.Errorf("inferred and kernel retransmissions disagree: precision %.3f, recall %.3f", k.Precision, k.Recall)
	}
	if k.KindsCompared > 0 && float64(k.KindsAgreed) < 0.95*float64(k.KindsCompared) {
		t.Errorf("kinds agree on %d of %d kernel segments, below 95 %%", k.KindsAgreed, k.KindsCompared)
	}
}

// logCounters logs the kernel counters that tell a real loss from a
// spurious retransmission: the receiver's discards and the sender's undos.
func logCounters(t *testing.T, r *truthResult) {
	t.Logf("receiver: PAWSEstab %d OFOPruned %d RcvQDrop %d OFODrop %d; sender: RetransSegs %d DSACKRecv %d DSACKUndo %d FullUndo %d PartialUndo %d LossUndo %d SpuriousRtxHostQueues %d",
		r.server["TcpExtPAWSEstab"], r.server["TcpExtOfoPruned"], r.server["TcpExtTCPRcvQDrop"], r.server["TcpExtTCPOFODrop"],
		r.client["TcpRetransSegs"], r.client["TcpExtTCPDSACKRecv"], r.client["TcpExtTCPDSACKUndo"], r.client["TcpExtTCPFullUndo"],
		r.client["TcpExtTCPPartialUndo"], r.client["TcpExtTCPLossUndo"], r.client["TcpExtTCPSpuriousRtxHostQueues"])
}

func logEvents(t *testing.T, r *truthResult) {
	var parts []string
	for k, v := range r.events {
		if strings.Contains(k, "/") || k == events.TypeReordering || k == events.TypeSpuriousRetrans {
			parts = append(parts, fmt.Sprintf("%s=%d", k, v))
		}
	}
	t.Logf("events: %s", strings.Join(parts, " "))
}

// TestDetectorTruth runs the lab scenarios of docs/detectors.md ("Checked
// against the kernel") and scores the detectors against the kernel records
// in each capture.
func TestDetectorTruth(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: eBPF capture and network namespaces")
	}
	bulk := []string{"--bytes", "4000000"}
	scenarios := []truthScenario{
		{name: "deep-buffer", args: bulk, rtt: rttSmoothed | rttSamples,
			setup: func(l *lab.Lab) error {
				return l.SetBottleneck(lab.ToServer, lab.Bottleneck{Rate: "20mbit", Burst: "32kb", Latency: "150ms"})
			},
			check: checkKinds},
		{name: "reordering", args: bulk, rtt: rttSmoothed,
			setup: func(l *lab.Lab) error {
				return l.SetReorder(lab.ToServer, lab.Reorder{Permille: 20, Rate: "50mbit", SlowRate: "300mbit"})
			},
			check: func(t *testing.T, r *truthResult) {
				checkKinds(t, r)
				if n := r.events[events.TypeReordering]; n == 0 {
					t.Error("no reordering event")
				}
				// The path drops nothing, but the receiver can: a
				// retransmission that overtakes the late originals moves
				// its TS.Recent past their TSvals and PAWS discards them
				// (TcpExtPAWSEstab). Those holes are real losses (the
				// detectors note it when the discard shows in the ACKs).
				// Any confirmed loss beyond the drops the kernel counted
				// is reordering read as loss.
				confirmed := 0
				for k, v := range r.events {
					if strings.HasPrefix(k, events.TypeLossInfer+"/") && !strings.HasSuffix(k, "confirmed=false") {
						confirmed += v
					}
				}
				paws, discards := r.events[keyLossPAWS], r.server["TcpExtPAWSEstab"]
				t.Logf("router queues dropped %d packets, the receiver's PAWS check %d; %d confirmed loss_infer, %d of them noted as PAWS discards",
					r.qdiscDrops, discards, confirmed, paws)
				if uint64(confirmed) > r.qdiscDrops+discards {
					t.Errorf("%d confirmed loss_infer on a path that only reorders (queues dropped %d, PAWS discarded %d)", confirmed, r.qdiscDrops, discards)
				}
				if paws > 0 && discards == 0 {
					t.Errorf("%d losses put down to PAWS, but the receiver's PAWS check discarded nothing", paws)
				}
			}},
		{name: "random-loss", args: bulk, rtt: rttSmoothed,
			setup: func(l *lab.Lab) error {
				if err := l.SetBottleneck(lab.ToServer, lab.Bottleneck{Rate: "50mbit", Burst: "32kb", Latency: "20ms"}); err != nil {
					return err
				}
				return l.SetLoss(lab.ToServer, 10)
			},
			check: checkKinds},
		{name: "tail-loss", sample: time.Millisecond, rtt: rttSamples,
			// Application-limited bursts: 15 kB writes 600 ms apart (longer
			// than a probe, a timeout and a backed-off timeout), idle before
			// the FIN so that the last burst's tail is not SACKed by it.
			args: []string{"--bytes", "120000", "--write-size", "15000", "--write-gap", "600ms", "--idle", "700ms",
				"--conns", "2"},
			setup: func(l *lab.Lab) error {
				// 4 Mbit/s with a small bucket: a burst queues for up to
				// 30 ms, an RTT of milliseconds rather than the lab's tens
				// of microseconds.
				if err := l.SetBottleneck(lab.ToServer, lab.Bottleneck{Rate: "4mbit", Burst: "3kb", Latency: "200ms"}); err != nil {
					return err
				}
				// A write is 10 full segments and a 520-byte tail (IP length
				// 572 with the timestamp option; PSH is no marker, Linux
				// pushes every half window). The probe and the timeout
				// retransmission resend the tail alone. Of every six tail
				// segments drop the 1st, 3rd and 4th: a tail recovered by a
				// loss probe, then one whose probe is lost too (recovered by
				// a timeout), then a clean one.
				return l.AddRule(`oifname "veth-rs" tcp dport 5001 ip length 572 numgen inc mod 6 { 0, 2, 3 } counter drop`)
			},
			check: func(t *testing.T, r *truthResult) {
				checkKernelSamples(t, r)
				checkKinds(t, r)
				if r.causes[kblock.CauseLoss] == 0 || r.causes[kblock.CauseLossProbe] == 0 {
					t.Errorf("kernel causes %v: want loss probes and timeouts", r.causes)
				}
				if got, want := r.events[events.TypeRetransmission+"/"+events.RetransTLP], r.causes[kblock.CauseLossProbe]; got != want {
					t.Errorf("%d retransmissions of kind tlp, kernel sent %d loss probes", got, want)
				}
			}},
		{name: "spurious", args: bulk, rtt: rttSmoothed,
			setup: func(l *lab.Lab) error {
				return l.SetReorder(lab.ToServer, lab.Reorder{Permille: 10, Rate: "50mbit", SlowRate: "2mbit"})
			},
			check: func(t *testing.T, r *truthResult) {
				checkKinds(t, r)
				if r.events[events.TypeSpuriousRetrans] == 0 {
					t.Error("no spurious_retransmission found")
				}
			}},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			path, r := captureScenario(t, s)
			analyze(t, path, r)
			// A capture that lost records in the kernel (ring buffers full
			// on a loaded machine) is not the transfer the kernel counted:
			// such a run is made once more, and the second run decides.
			retry := true
			switch {
			case r.drops > 0:
				t.Logf("the capture lost %d records in the kernel: running the scenario once more", r.drops)
			case rttOff(t, r, s.rtt):
				// The medians are over the kernel's records: on tail-loss
				// few of them, and on a lossy path one record after an ACK
				// the kernel takes a timestamp sample on and the engine
				// does not (a TSval echoed again, docs/detectors.md) can
				// carry the median: about one random-loss run in thirty.
				t.Log("the RTT medians are more than 10 % apart: running the scenario once more")
			default:
				retry = false
			}
			if retry {
				path, r = captureScenario(t, s)
				analyze(t, path, r)
			}
			logEvents(t, r)
			logCounters(t, r)
			checkRTT(t, r, s.rtt)
			s.check(t, r)
		})
	}
}
