package metrics

import (
	"context"
	"testing"

	"github.com/tcpviz/tcpviz/detectors"
	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/conntrack"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/sessionfiles"
)

// counts is what the metrics must add up to, computed from the pipeline's
// own records.
type counts struct {
	segments [2]float64
	retrans  map[string]float64 // by kind
	loss     float64
	ooo      float64
	rtts     uint64
	rsts     float64
	goodput  uint64
}

type tally struct{ c *counts }

func (t tally) Packet(p *events.Packet) {
	if p.Len > 0 {
		t.c.segments[p.Dir]++
	}
	if p.Flags&events.FlagRST != 0 {
		t.c.rsts++
	}
}

func (t tally) Event(e *events.Event) {
	switch e.Type {
	case events.TypeRetransmission:
		t.c.retrans[e.Kind]++
	case events.TypeLossInfer, events.TypeLostSegment:
		t.c.loss++
	case events.TypeOutOfOrder:
		t.c.ooo++
	case events.TypeRTTSample:
		if e.Reason != events.ReasonHandshake && e.RTTms > 0 {
			t.c.rtts++
		}
	}
}

func run(t *testing.T, sample string, ports []uint16) (*Registry, *counts) {
	t.Helper()
	reg := NewRegistry()
	tr := NewTraffic(reg, ports)
	c := &counts{retrans: map[string]float64{}}
	cfg := pipeline.Config{Flows: conntrack.DefaultConfig(),
		NewDetector: func(emit func(*events.Event)) pipeline.Detector {
			return detectors.New(detectors.DefaultConfig(), emit)
		},
		OnFlow: func(r *events.FlowRecord) {
			tr.Flow(r)
			if r.DurationMS > 0 {
				for _, b := range []uint64{r.BytesC2S, r.BytesS2C} {
					if b > 0 {
						c.goodput++
					}
				}
			}
		}}
	if _, err := sessionfiles.Run(context.Background(), sessionfiles.Options{Input: sample, OutDir: t.TempDir(),
		Pipeline: cfg, Sinks: []pipeline.Sink{tr, tally{c}}}); err != nil {
		t.Fatal(err)
	}
	return reg, c
}

func TestTrafficCounters(t *testing.T) {
	reg, c := run(t, "../../samples/bbr-loss-sender.pcapng", []uint16{5001})
	for _, x := range []struct {
		name string
		got  float64
		want float64
	}{
		{"segments c2s", sumOf(t, reg, "tcpviz_data_segments_total", map[string]string{"direction": "c2s", "service_port": "5001"}), c.segments[0]},
		{"segments s2c", sumOf(t, reg, "tcpviz_data_segments_total", map[string]string{"direction": "s2c"}), c.segments[1]},
		{"retransmissions fast", sumOf(t, reg, "tcpviz_retransmitted_segments_total", map[string]string{"kind": "fast", "service_port": "5001"}), c.retrans["fast"]},
		{"retransmissions rto", sumOf(t, reg, "tcpviz_retransmitted_segments_total", map[string]string{"kind": "rto"}), c.retrans["rto"]},
		{"loss", sumOf(t, reg, "tcpviz_loss_events_total", nil), c.loss},
		{"reordering", sumOf(t, reg, "tcpviz_reordering_events_total", nil), c.ooo},
		{"resets", sumOf(t, reg, "tcpviz_resets_total", nil), c.rsts},
	} {
		if x.got != x.want {
			t.Errorf("%s: metric %v, records %v", x.name, x.got, x.want)
		}
	}
	if c.retrans["fast"] == 0 || c.loss == 0 {
		t.Fatal("the sample has no losses: the test proves nothing")
	}
	h := histCount(t, reg, "tcpviz_rtt_seconds")
	if h != c.rtts || h == 0 {
		t.Errorf("rtt histogram has %d samples, the events %d", h, c.rtts)
	}
	if g := histCount(t, reg, "tcpviz_goodput_bits_per_second"); g != c.goodput || g == 0 {
		t.Errorf("goodput histogram has %d observations, want %d", g, c.goodput)
	}
}

// TestServicePortBounded: ports outside the list become "other", so the
// label never takes a client's ephemeral port.
func TestServicePortBounded(t *testing.T) {
	reg, _ := run(t, "../../samples/rst-teardown.pcap", []uint16{443})
	n := 0
	for _, mf := range reg.Gather() {
		for _, m := range mf.Metrics {
			for _, l := range m.Labels {
				if l.Name == "service_port" {
					n++
					if l.Value != Other {
						t.Errorf("%s: service_port %q, want %q", mf.Name, l.Value, Other)
					}
				}
				if l.Name == "flow" || l.Name == "client" || l.Name == "server" {
					t.Errorf("%s has an unbounded label %s", mf.Name, l.Name)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no series with a service_port")
	}
}

// TestZeroWindowSeconds: the zero-window sample's receiver time at a zero
// window is counted, and is less than the capture lasts.
func TestZeroWindowSeconds(t *testing.T) {
	reg, _ := run(t, "../../samples/zero-window.pcapng", nil)
	got := sumOf(t, reg, "tcpviz_zero_window_seconds_total", nil)
	if got <= 0 || got > 60 {
		t.Errorf("zero-window seconds %v", got)
	}
}

func sumOf(t *testing.T, reg *Registry, name string, match map[string]string) float64 {
	t.Helper()
	sum := 0.0
	for _, mf := range reg.Gather() {
		if mf.Name != name {
			continue
		}
	metric:
		for _, m := range mf.Metrics {
			for k, v := range match {
				found := false
				for _, l := range m.Labels {
					if l.Name == k && l.Value == v {
						found = true
					}
				}
				if !found {
					continue metric
				}
			}
			sum += m.Value
		}
	}
	return sum
}

func histCount(t *testing.T, reg *Registry, name string) uint64 {
	t.Helper()
	var n uint64
	for _, mf := range reg.Gather() {
		if mf.Name == name {
			for _, m := range mf.Metrics {
				n += m.Count
			}
		}
	}
	return n
}
