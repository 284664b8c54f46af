package events_test

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tcpviz/tcpviz/events"
)

// randSummary fills every field of a summary, each optional one present or
// absent, lists and maps nil, empty or not.
func randSummary(r *rand.Rand) events.Summary {
	strs := func() []string {
		switch r.IntN(3) {
		case 0:
			return nil
		case 1:
			return []string{}
		}
		l := make([]string, 1+r.IntN(3))
		for i := range l {
			l[i] = randString(r)
		}
		return l
	}
	s := events.Summary{
		Schema: r.IntN(3), Tool: randString(r), Input: randString(r), Inputs: strs(),
		InputBytes: r.Int64(), Format: randString(r), Started: events.Timestamp(r.Int64N(4e18)),
		Seconds: randFloat(r), PacketsPerSec: randFloat(r),
		Frames: r.Uint64(), Packets: r.Uint64N(1e9), TCPPackets: r.Uint64N(1e9), KernelRecords: r.Uint64N(1e6),
		Flows: r.IntN(1e6), FirstPacket: maybe(r, events.Timestamp(r.Int64N(4e18))),
		LastPacket: maybe(r, events.Timestamp(r.Int64N(4e18))), Warnings: strs(),
		ZeroWindowMS: maybe(r, randFloat(r)), ZeroWindowFlows: maybe(r, r.IntN(100)), Files: strs(),
	}
	if r.IntN(3) > 0 {
		s.Skipped = map[string]uint64{}
		for range r.IntN(4) {
			s.Skipped[randString(r)] = r.Uint64()
		}
	}
	if r.IntN(3) > 0 {
		s.Events = map[string]int{}
		for range r.IntN(6) {
			s.Events[randString(r)] = r.IntN(1e6)
		}
	}
	if r.IntN(2) == 0 {
		s.KernelRetrans = &events.RetransCheck{Kernel: r.IntN(100), KernelSeen: r.IntN(100), Inferred: r.IntN(100),
			Matched: r.IntN(100), Precision: randFloat(r), Recall: randFloat(r), KernelLossEpisodes: r.IntN(9),
			InferredLossEpisodes: r.IntN(9), KindsCompared: r.IntN(9), KindsAgreed: r.IntN(9),
			KernelKinds:   events.RetransKinds{Fast: r.IntN(9), RTO: r.IntN(9), TLP: r.IntN(9), Other: r.IntN(9)},
			InferredKinds: events.RetransKinds{Fast: r.IntN(9), RTO: r.IntN(9)}, RTTRecords: r.IntN(9),
			KernelSRTTP50MS: randFloat(r), InferredSRTTP50MS: randFloat(r), InferredRTTP50MS: randFloat(r)}
	}
	if r.IntN(2) == 0 {
		s.KernelLimits = &events.LimitsCheck{Directions: r.IntN(9), SameDominant: r.IntN(9), Agreement: randFloat(r)}
	}
	for range r.IntN(4) {
		s.Limits = append(s.Limits, events.Verdict{Flow: r.Uint64(), Client: randString(r), Server: randString(r),
			Dir: events.Dir(r.IntN(2)), Limit: randString(r), Share: randFloat(r), Source: randString(r),
			HeldS: randFloat(r), Sentence: randString(r), Problem: maybe(r, randString(r))})
	}
	return s
}

// TestSummaryJSON compares summary.json's bytes with what encoding/json
// writes: the compact object on random summaries, the indented file, and a
// figure encoding/json refuses.
func TestSummaryJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 3000 {
		s := randSummary(r)
		same(t, "summary", s.AppendJSON(nil), marshal(t, &s))
		got, err := s.IndentJSON()
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("summary %d indented:\n got %s\nwant %s", i, got, want)
		}
	}
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		s := events.Summary{Limits: []events.Verdict{{HeldS: bad}}}
		_, err := s.IndentJSON()
		_, want := json.MarshalIndent(s, "", "  ")
		if err == nil || err.Error() != want.Error() {
			t.Errorf("HeldS %v: error %v, want %v", bad, err, want)
		}
	}
}
