package detectors

// storm counts events (the first RST or FIN of each connection) in a
// sliding time window and fires once when the count reaches n; it re-arms
// after a full window without a storm.
type storm struct {
	n      int
	window int64
	ts     []int64 // ring of the last n times
	next   int
	count  int
	quiet  int64 // no new storm report before this time
}

func newStorm(n int, window int64) storm {
	if n < 1 {
		n = 1
	}
	return storm{n: n, window: window, ts: make([]int64, n)}
}

// add records one event at time t and reports the number of events in the
// window and whether a storm starts now.
func (s *storm) add(t int64) (int, bool) {
	s.ts[s.next] = t
	s.next = (s.next + 1) % s.n
	if s.count < s.n {
		s.count++
	}
	oldest := s.ts[s.next] // the oldest of the last n once the ring is full
	if s.count < s.n || t-oldest > s.window || t < s.quiet {
		return s.count, false
	}
	s.quiet = t + s.window
	return s.n, true
}
