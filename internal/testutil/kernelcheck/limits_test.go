//go:build linux

package kernelcheck

import (
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/testutil/feed"
	"github.com/tcpviz/tcpviz/internal/testutil/lab"
	"github.com/tcpviz/tcpviz/internal/testutil/pipecfg"
	"github.com/tcpviz/tcpviz/pcapng"
)

// ssSock is what `ss -ti` showed of one socket, last poll wins.
type ssSock struct {
	first, last        time.Time
	busy, rwnd, sndbuf time.Duration
	bytesAcked         uint64
}

var (
	ssLocal  = regexp.MustCompile(`^(?:[A-Z][A-Z-]*\s+)?\d+\s+\d+\s+\S+:(\d+)\s+\S+:\d+`)
	ssBusy   = regexp.MustCompile(`\bbusy:(\d+)ms`)
	ssRwnd   = regexp.MustCompile(`\brwnd_limited:(\d+)ms`)
	ssSndbuf = regexp.MustCompile(`\bsndbuf_limited:(\d+)ms`)
	ssAcked  = regexp.MustCompile(`\bbytes_acked:(\d+)`)
)

// parseSS reads `ss -tinH` output: a socket line, then its info line.
func parseSS(out string, now time.Time, socks map[uint16]*ssSock) {
	var cur *ssSock
	for _, line := range strings.Split(out, "\n") {
		if m := ssLocal.FindStringSubmatch(line); m != nil {
			p, _ := strconv.Atoi(m[1])
			cur = socks[uint16(p)]
			if cur == nil {
				cur = &ssSock{first: now}
				socks[uint16(p)] = cur
			}
			cur.last = now
			continue
		}
		if cur == nil {
			continue
		}
		ms := func(re *regexp.Regexp) (time.Duration, bool) {
			m := re.FindStringSubmatch(line)
			if m == nil {
				return 0, false
			}
			v, _ := strconv.ParseInt(m[1], 10, 64)
			return time.Duration(v) * time.Millisecond, true
		}
		if v, ok := ms(ssBusy); ok {
			cur.busy = v
		}
		if v, ok := ms(ssRwnd); ok {
			cur.rwnd = v
		}
		if v, ok := ms(ssSndbuf); ok {
			cur.sndbuf = v
		}
		if m := ssAcked.FindStringSubmatch(line); m != nil {
			cur.bytesAcked, _ = strconv.ParseUint(m[1], 10, 64)
		}
	}
}

// pollSS polls `ss -ti` in namespace ns for sockets to dst every 20 ms
// until stop is closed. It also returns the longest time between two
// polls: on a busy machine one ss run can take far longer than 20 ms, and
// a socket's life as seen by the polls is only that exact.
func pollSS(l *lab.Lab, ns, dst string, stop <-chan struct{}) (map[uint16]*ssSock, time.Duration) {
	socks := map[uint16]*ssSock{}
	var prev time.Time
	var maxGap time.Duration
	for {
		out, _ := l.RunErr(ns, "ss", "-tinH", "state", "established", "dst", dst)
		now := time.Now()
		parseSS(out, now, socks)
		if !prev.IsZero() {
			maxGap = max(maxGap, now.Sub(prev))
		}
		prev = now
		select {
		case <-stop:
			return socks, maxGap
		case <-time.After(20 * time.Millisecond):
		}
	}
}

type limitScenario struct {
	name  string
	setup func(t *testing.T, l *lab.Lab)
	// sender runs the transfer in the client namespace and returns when it
	// is over; server is the receiver's command.
	server []string
	ready  string
	sender []string
	port   string
	// want is the limit the scenario forces; network also accepts recovery
	// for cwnd (a lossy bottleneck keeps a sender in loss recovery much of
	// the time).
	want string
}

// TestLabLimitsMatchSS forces each limit in the namespace lab, captures the
// sender with tcpviz's own capture, and checks the kernel-sourced split
// against `ss -ti` polled in the sender's namespace until the connection
// closed, and the dominant limit inferred from packets alone against the
// kernel's.
func TestLabLimitsMatchSS(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: eBPF capture and network namespaces")
	}
	for _, tool := range []string{"iperf3", "ss"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (Debian packages iperf3, iproute2)", tool)
		}
	}
	iperfServer := []string{"iperf3", "-s", "-1", "--forceflush"}
	iperf := func(args ...string) []string {
		return append([]string{"iperf3", "-c", lab.ServerAddr.String(), "--connect-timeout", "5000"}, args...)
	}
	sysctl := func(ns, kv string) func(t *testing.T, l *lab.Lab) {
		return func(t *testing.T, l *lab.Lab) {
			if _, err := l.RunErr(nsOf(l, ns), "sysctl", "-q", "-w", kv); err != nil {
				t.Fatal(err)
			}
		}
	}
	scenarios := []limitScenario{
		{name: "rwnd-small-receive-buffer", setup: sysctl("server", "net.ipv4.tcp_rmem=4096 8192 16384"),
			server: iperfServer, ready: "Server listening", port: "5201",
			sender: iperf("-t", "3", "-C", "cubic"), want: events.LimitRwnd},
		{name: "rwnd-receive-buffer-behind-bottleneck", setup: func(t *testing.T, l *lab.Lab) {
			// The window fills, then the acknowledgements free it a
			// little at a time while the sender waits for its next
			// write: the kernel counts that wait as rwnd limited.
			sysctl("server", "net.ipv4.tcp_rmem=4096 32768 65536")(t, l)
			if err := l.SetBottleneck(lab.ToServer, lab.Bottleneck{Rate: "200mbit", Burst: "64kbit", Latency: "20ms"}); err != nil {
				t.Fatal(err)
			}
		}, server: iperfServer, ready: "Server listening", port: "5201",
			sender: iperf("-t", "3", "-C", "cubic"), want: events.LimitRwnd},
		{name: "cwnd-lossy-bottleneck", setup: func(t *testing.T, l *lab.Lab) {
			if err := l.SetBottleneck(lab.ToServer, lab.Bottleneck{Rate: "50mbit", Burst: "32kbit", Latency: "20ms"}); err != nil {
				t.Fatal(err)
			}
			if err := l.SetLoss(lab.ToServer, 10); err != nil {
				t.Fatal(err)
			}
		}, server: iperfServer, ready: "Server listening", port: "5201",
			sender: iperf("-t", "3", "-C", "cubic"), want: events.LimitCwnd},
		{name: "cwnd-lossy-bottleneck-bbr", setup: func(t *testing.T, l *lab.Lab) {
			if err := l.SetBottleneck(lab.ToServer, lab.Bottleneck{Rate: "30mbit", Burst: "32kbit", Latency: "20ms"}); err != nil {
				t.Fatal(err)
			}
			if err := l.SetLoss(lab.ToServer, 20); err != nil {
				t.Fatal(err)
			}
		}, server: iperfServer, ready: "Server listening", port: "5201",
			sender: iperf("-t", "3", "-C", "bbr"), want: events.LimitCwnd},
		{name: "app-5mbit", server: iperfServer, ready: "Server listening", port: "5201",
			sender: iperf("-t", "3", "-b", "5M"), want: events.LimitApp},
		{name: "sndbuf-small-send-buffer", setup: func(t *testing.T, l *lab.Lab) {
			sysctl("client", "net.ipv4.tcp_wmem=4096 8192 16384")(t, l)
			// A queue of up to 100 ms behind a 20 Mbit/s bottleneck: a
			// bandwidth-delay product far above the 16 kB send buffer.
			if err := l.SetBottleneck(lab.ToServer, lab.Bottleneck{Rate: "20mbit", Burst: "32kbit", Latency: "100ms"}); err != nil {
				t.Fatal(err)
			}
		}, server: iperfServer, ready: "Server listening", port: "5201",
			sender: iperf("-t", "3", "-C", "cubic"), want: events.LimitSndbuf},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) { runLimitScenario(t, sc) })
	}
}

func nsOf(l *lab.Lab, side string) string {
	if side == "server" {
		return l.Server
	}
	return l.Client
}

// limitRun is one scenario's transfer: the capture of the sender and what
// the ss polls saw of its data connection.
type limitRun struct {
	out     string
	port    uint16
	ss      *ssSock
	pollGap time.Duration // the longest time between two ss polls
}

// coarse is how far the ss figures can be off, as a share of the socket's
// life: the polls can miss up to one gap at each end of it.
func (r limitRun) coarse() float64 {
	life := max(r.ss.last.Sub(r.ss.first).Seconds(), r.ss.busy.Seconds())
	if life <= 0 {
		return 1
	}
	return 2 * r.pollGap.Seconds() / life
}

// maxCoarse is the most that the ss polls may be off (a share of the
// socket's life) before the transfer is run once more. A quiet machine
// polls every 20-100 ms (±1-7 %); at load 13-15 on 2 cores the longest gap
// was 110-460 ms (±7-32 %), and once 1.6 s (±108 %).
const maxCoarse = 0.25

func runLimitScenario(t *testing.T, sc limitScenario) {
	// A transfer whose ss polls came too far apart to be compared closely
	// is run once more; the better-polled run is checked, with the room its
	// polling gaps need.
	r := limitTransfer(t, sc)
	if r.coarse() > maxCoarse {
		t.Logf("ss polled up to %v apart, its figures within ±%.0f %% of the socket's life: running the transfer again",
			r.pollGap, 100*r.coarse())
		if again := limitTransfer(t, sc); again.coarse() < r.coarse() {
			r = again
		}
	}
	checkLimits(t, sc, r)
}

// limitTransfer runs the scenario's transfer in a new lab, capturing the
// sender and polling ss in its namespace.
func limitTransfer(t *testing.T, sc limitScenario) limitRun {
	l := lab.New(t, lab.Options{NoOffload: true})
	if sc.setup != nil {
		sc.setup(t, l)
	}
	srv, err := l.Start(l.Server, sc.server[0], sc.server[1:]...)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitOutput(sc.ready, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "sender.pcapng")
	stop := startCapture(t, l, out, 0)
	stopSS := make(chan struct{})
	var socks map[uint16]*ssSock
	var pollGap time.Duration
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		socks, pollGap = pollSS(l, l.Client, lab.ServerAddr.String()+":"+sc.port, stopSS)
	}()
	time.Sleep(50 * time.Millisecond)
	l.Run(l.Client, sc.sender[0], sc.sender[1:]...)
	time.Sleep(200 * time.Millisecond)
	close(stopSS)
	wg.Wait()
	stop()

	// The data connection: the socket that sent the most.
	var port uint16
	var ss *ssSock
	for p, s := range socks {
		if ss == nil || s.bytesAcked > ss.bytesAcked {
			port, ss = p, s
		}
	}
	// ss leaves out busy: (and the limited times) while they are zero: an
	// application-limited sender whose every write is acknowledged before
	// the next one was never busy, which is a figure, not a missing one.
	if ss == nil || ss.bytesAcked == 0 {
		t.Fatalf("ss showed no sender with data acknowledged (%d sockets)", len(socks))
	}
	return limitRun{out: out, port: port, ss: ss, pollGap: pollGap}
}

// checkLimits compares the kernel-sourced split of one run with ss, and the
// dominant limit inferred from packets alone with the kernel's.
func checkLimits(t *testing.T, sc limitScenario, r limitRun) {
	out, port, ss, pollGap := r.out, r.port, r.ss, r.pollGap
	withKernel := flowLimits(t, out, true)[port]
	fromPackets := flowLimits(t, out, false)[port]
	if withKernel == nil || fromPackets == nil {
		t.Fatalf("no limits for the connection from port %d", port)
	}
	k := withKernel
	if k.Source != events.LimitSourceKernel || k.Kernel == nil {
		t.Fatalf("limits source %q, want kernel: %+v", k.Source, k)
	}
	if fromPackets.Source != events.LimitSourcePackets {
		t.Fatalf("without kernel records the source is %q", fromPackets.Source)
	}
	// The polls see the socket a little after it opened and before it
	// closed; busy time cannot exceed its life.
	life := max(ss.last.Sub(ss.first).Seconds(), ss.busy.Seconds())
	total := k.Seconds.Total()
	share := func(a, b float64) float64 {
		if b <= 0 {
			return 0
		}
		return a / b
	}
	ssBusy, ssR, ssS := ss.busy.Seconds(), ss.rwnd.Seconds(), ss.sndbuf.Seconds()
	// The polls can miss up to one gap at each end of the socket's life,
	// so the lifetime share gets that much more room.
	lifeSlack := r.coarse()
	checks := []struct {
		name      string
		ours, ref float64
		slack     float64
	}{
		{"busy of lifetime", share(k.Kernel.Busy, total), share(ssBusy, life), lifeSlack},
		{"rwnd_limited of busy", share(k.Seconds.Rwnd, k.Kernel.Busy), share(ssR, ssBusy), 0},
		{"sndbuf_limited of busy", share(k.Seconds.Sndbuf, k.Kernel.Busy), share(ssS, ssBusy), 0},
	}
	t.Logf("ss polled at most %v apart", pollGap)
	t.Logf("ss: life %.3fs busy %.3fs rwnd %.3fs sndbuf %.3fs; ours: total %.3fs %s, kernel %+v",
		life, ssBusy, ssR, ssS, total, fmtSplit(k), *k.Kernel)
	t.Logf("packets alone: %s; beside the kernel: %s agreement %.2f", fmtSplit(fromPackets),
		k.Packets.Dominant, k.Packets.Agreement)
	for _, c := range checks {
		t.Logf("%s: ours %.1f %%, ss %.1f %%", c.name, c.ours*100, c.ref*100)
		if math.Abs(c.ours-c.ref) > 0.05+c.slack {
			t.Errorf("%s: ours %.1f %%, ss %.1f %%: more than %.1f points apart", c.name, c.ours*100, c.ref*100, (0.05+c.slack)*100)
		}
	}
	// The dominant limit by ss's figures: rwnd, sndbuf, the rest of busy
	// (the network: cwnd or recovery) or the time not busy (app).
	ssTimes := map[string]float64{
		events.LimitRwnd:   ssR,
		events.LimitSndbuf: ssS,
		events.LimitCwnd:   ssBusy - ssR - ssS,
		events.LimitApp:    life - ssBusy,
	}
	ssDom := dominantOf(ssTimes)
	if ssDom != sc.want {
		t.Logf("ss does not show the scenario's limit: %s dominates, not %s", ssDom, sc.want)
	}
	// Two limits within a few points of each other are a tie: the kernel's
	// chronographs, ss's millisecond figures and the packets each draw the
	// line a little differently, and either side of a tie is an honest
	// answer. Outside a tie the dominant limit must be the same.
	// ss's split is its busy time against the socket's life as the polls
	// saw it, so its times are off by as much as the lifetime share: its
	// side of the tie gets the same room.
	const tie = 0.10
	kTimes, pTimes := networkTimes(k.Seconds), networkTimes(fromPackets.Seconds)
	kDom, pDom := network(k.Dominant), network(fromPackets.Dominant)
	if !nearTop(ssTimes, kDom, tie+lifeSlack) && !nearTop(kTimes, ssDom, tie) {
		t.Errorf("kernel-sourced dominant %s, ss shows %s (ss within ±%.0f points)", k.Dominant, ssDom, 100*lifeSlack)
	}
	// Packets do not show the send buffer (sndbuf is never inferred): a
	// sender short of buffer space has less in flight than its window
	// allows, which packets read as the network's limit. Beside the packets
	// the kernel's sndbuf time counts as cwnd.
	kSeen := packetsView(kTimes)
	if kSeenDom := dominantOf(kSeen); !nearTop(kSeen, pDom, tie) && !nearTop(pTimes, kSeenDom, tie) {
		t.Errorf("dominant from packets alone %s, from the kernel %s (%s with its sndbuf time as cwnd)", fromPackets.Dominant, k.Dominant, kSeenDom)
	}
}

// packetsView is a kernel-sourced split as packets can see it: the sndbuf
// time folded into cwnd.
func packetsView(times map[string]float64) map[string]float64 {
	m := maps.Clone(times)
	m[events.LimitCwnd] += m[events.LimitSndbuf]
	delete(m, events.LimitSndbuf)
	return m
}

// networkTimes is a split by limit with recovery folded into cwnd.
func networkTimes(s events.LimitSeconds) map[string]float64 {
	m := map[string]float64{}
	for i, v := range s.Array() {
		m[network(events.LimitNames[i])] += v
	}
	return m
}

// dominantOf is the limit with the most time; ties go to the first in
// LimitNames order so the answer does not depend on map order.
func dominantOf(times map[string]float64) string {
	dom, best := "", -1.0
	for _, name := range events.LimitNames {
		if v, ok := times[name]; ok && v > best {
			dom, best = name, v
		}
	}
	return dom
}

// nearTop reports whether limit's time is within margin (a share of the
// total) of the largest time in the split.
func nearTop(times map[string]float64, limit string, margin float64) bool {
	var total, top float64
	for _, v := range times {
		total += v
		top = max(top, v)
	}
	if total <= 0 {
		return false
	}
	return (top-times[limit])/total <= margin
}

// network folds recovery into cwnd: both are the network's limit, and
// neither ss nor the packets draw a sharp line between them.
func network(limit string) string {
	if limit == events.LimitRecovery {
		return events.LimitCwnd
	}
	return limit
}

func fmtSplit(d *events.DirLimits) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %.0f%% [", d.Source, d.Dominant, d.Seconds.Share()*100)
	for i, v := range d.Seconds.Array() {
		fmt.Fprintf(&b, " %s %.3f", events.LimitNames[i], v)
	}
	return b.String() + " ]"
}

// flowLimits runs the capture through the pipeline, with or without its
// kernel records, and returns the client-to-server limits by client port.
func flowLimits(t *testing.T, file string, kernel bool) map[uint16]*events.DirLimits {
	t.Helper()
	res := map[uint16]*events.DirLimits{}
	cfg := pipecfg.Detectors()
	cfg.OnFlow = func(r *events.FlowRecord) {
		if l := r.Limits.Dir(events.DirC2S); l != nil {
			c := *l // r is reused for the next connection
			res[r.ClientPort] = &c
		}
	}
	p := pipeline.New(cfg)
	feed.File(t, file, feed.Func(func(rec *pcapng.Record) error {
		if rec.Type == pcapng.RecordCustom && !kernel {
			return nil
		}
		return p.Feed(rec)
	}))
	p.Finish()
	return res
}
