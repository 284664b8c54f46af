//go:build linux

package kernelcheck

import (
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/testutil/lab"
)

// TestRTTVariants runs the RTT comparison on transfers the truth test does
// not make (docs/detectors.md, "Which srtt median"): three 500 kB writes
// 700 ms apart, each with a lost tail (recovered by a probe, then by a
// timeout), through a 20 ms or 50 ms queue, with CUBIC and BBR; and
// tail-loss at the capture's default sample interval. It logs the figures
// and checks the kinds; set TCPVIZ_TRUTH_VARIANTS to a regexp of the names
// to run (root), TCPVIZ_TRUTH_SAMPLE to the kernel sample interval.
func TestRTTVariants(t *testing.T) {
	re := os.Getenv("TCPVIZ_TRUTH_VARIANTS")
	if re == "" || os.Geteuid() != 0 {
		t.Skip("TCPVIZ_TRUTH_VARIANTS unset or not root")
	}
	match := regexp.MustCompile(re)
	tail := func(rate, latency string) func(l *lab.Lab) error {
		return func(l *lab.Lab) error {
			if err := l.SetBottleneck(lab.ToServer, lab.Bottleneck{Rate: rate, Burst: "32kb", Latency: latency}); err != nil {
				return err
			}
			// 500000 bytes a write: 345 full segments and a 440-byte tail (IP length 492).
			return l.AddRule(`oifname "veth-rs" tcp dport 5001 ip length 492 numgen inc mod 6 { 0, 2, 3 } counter drop`)
		}
	}
	bulk := []string{"--bytes", "1500000", "--write-size", "500000", "--write-gap", "700ms", "--idle", "700ms"}
	var vs []truthScenario
	for _, cc := range []string{"cubic", "bbr"} {
		for _, p := range []struct{ name, rate, lat string }{{"20", "20mbit", "20ms"}, {"50", "10mbit", "50ms"}} {
			vs = append(vs, truthScenario{name: "tailbulk-" + cc + "-" + p.name, setup: tail(p.rate, p.lat),
				args: append(append([]string{}, bulk...), "--cc", cc)})
		}
	}
	vs = append(vs, truthScenario{name: "tail-loss-default",
		args: []string{"--bytes", "120000", "--write-size", "15000", "--write-gap", "600ms", "--idle", "700ms", "--conns", "2"},
		setup: func(l *lab.Lab) error {
			if err := l.SetBottleneck(lab.ToServer, lab.Bottleneck{Rate: "4mbit", Burst: "3kb", Latency: "200ms"}); err != nil {
				return err
			}
			return l.AddRule(`oifname "veth-rs" tcp dport 5001 ip length 572 numgen inc mod 6 { 0, 2, 3 } counter drop`)
		}})
	for _, s := range vs {
		if !match.MatchString(s.name) {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			if d, err := time.ParseDuration(os.Getenv("TCPVIZ_TRUTH_SAMPLE")); err == nil {
				s.sample = d
			}
			path, r := captureScenario(t, s)
			analyze(t, path, r)
			logEvents(t, r)
			logCounters(t, r)
			rttDeviations(t, r)
			checkKinds(t, r)
			if s.sample == time.Millisecond {
				checkKernelSamples(t, r)
			}
		})
	}
}
