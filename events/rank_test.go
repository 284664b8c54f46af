package events

import (
	"slices"
	"testing"
)

// TestRankingOrder checks the one ranking of every output: never
// established first, then the longest stalled (zero window plus loss
// recovery), then the most findings, then the longest held back; ties by
// connection id.
func TestRankingOrder(t *testing.T) {
	held := func(cwnd, recovery float64) FlowLimits {
		l := DirLimits{Source: LimitSourcePackets, Seconds: LimitSeconds{Cwnd: cwnd, Recovery: recovery}}
		l.Dominant, _ = l.Seconds.Dominant()
		return FlowLimits{C2S: l}
	}
	flows := []FlowRecord{
		{Flow: 1, State: "SF", BytesC2S: 1, Limits: held(9, 0)},                                       // held 9 s, no problem
		{Flow: 2, State: "SF", BytesC2S: 1, Limits: held(1, 0), Events: map[string]int{"dup_ack": 7}}, // 7 findings
		{Flow: 3, State: "S0", Events: map[string]int{"handshake_anomaly": 1}},                        // never established
		{Flow: 4, State: "SF", BytesC2S: 1, Limits: held(1, 0.5), Events: map[string]int{"retransmission": 2}},
		{Flow: 5, State: "SF", BytesC2S: 1, ZeroWindowMS: 2000, Limits: held(1, 0)}, // stalled 2 s on a zero window
		{Flow: 6, State: "SF", BytesC2S: 1, Events: map[string]int{"rtt_sample": 50, "kernel_sample": 9}},
		{Flow: 7, State: "REJ"},
		{Flow: 8, State: "SF", BytesC2S: 1, Limits: held(1, 0), Events: map[string]int{"dup_ack": 7}}, // ties with 2
	}
	idx := make([]int, len(flows))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		if c := ComparePriority(flows[a].Problem(), flows[b].Problem()); c != 0 {
			return c
		}
		return int(flows[a].Flow) - int(flows[b].Flow)
	})
	var got []uint64
	for _, i := range idx {
		got = append(got, flows[i].Flow)
	}
	if want := []uint64{3, 7, 5, 4, 2, 8, 1, 6}; !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
	// Worst keeps the same order, only connections with a problem or held
	// back, at most N.
	var w []uint64
	for _, v := range WorstLimits(flows, 7) {
		w = append(w, v.Flow)
	}
	if want := []uint64{3, 7, 5, 4, 2, 8, 1}; !slices.Equal(w, want) {
		t.Errorf("worst %v, want %v", w, want)
	}
	for _, c := range []struct {
		f    FlowRecord
		want string
	}{
		{flows[2], "never established (S0 no-reply); 1 detector event"},
		{flows[3], "stalled 0.5 s (loss recovery 0.5 s); 2 detector events"},
		{flows[4], "stalled 2.0 s (zero window 2.0 s)"},
		{flows[0], "held back 9.0 s (~cwnd 100%)"},
		{flows[5], ""},
	} {
		if got := c.f.Problem().Reason(); got != c.want {
			t.Errorf("flow %d: reason %q, want %q", c.f.Flow, got, c.want)
		}
	}
}
