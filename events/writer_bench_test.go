package events_test

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"runtime"
	"testing"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/testutil/cputime"
)

// BenchmarkWriterEvents measures the event writer's stage of parse-pcap on
// real events: the lines of TCPVIZ_BENCH_EVENTS (an events.jsonl) are read
// back into memory, then written again through a Writer to io.Discard.
// cpu-ns/event is the writing thread's CPU time per event:
//
//	TCPVIZ_BENCH_EVENTS=out/events.jsonl go test ./events -run XXX \
//	  -bench WriterEvents -count 5
func BenchmarkWriterEvents(b *testing.B) {
	path := os.Getenv("TCPVIZ_BENCH_EVENTS")
	if path == "" {
		b.Skip("TCPVIZ_BENCH_EVENTS names no events.jsonl")
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var evs []events.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	// Equal texts share one string, as in the detectors' events (their
	// types, severities, kinds and reasons are constants, a connection's
	// endpoints are formatted once): the writer knows them by address.
	texts := map[string]string{}
	intern := func(s *string) {
		if t, ok := texts[*s]; ok {
			*s = t
		} else {
			texts[*s] = *s
		}
	}
	for sc.Scan() {
		var e events.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			b.Fatal(err)
		}
		intern(&e.Type)
		intern((*string)(&e.Severity))
		intern(&e.Kind)
		intern(&e.Reason)
		intern(&e.Src)
		intern(&e.Dst)
		evs = append(evs, e)
	}
	if len(evs) == 0 {
		b.Fatal("no events")
	}
	w := events.NewWriter(io.Discard, 256<<10)
	runtime.GC() // the decoding's garbage, not the writer's
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ResetTimer()
	cpu0 := cputime.Thread()
	for i := 0; i < b.N; i++ {
		w.Event(&evs[i%len(evs)])
	}
	b.ReportMetric(float64(cputime.Thread()-cpu0)/float64(b.N), "cpu-ns/event")
}
