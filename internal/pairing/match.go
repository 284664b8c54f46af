package pairing

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/tcpviz/tcpviz/events"
)

// How two connections were matched.
const (
	MatchTupleISN = "tuple+isn" // same 4-tuple and both initial sequence numbers
	MatchISN      = "isn"       // same ISNs and one port: a NAT rewrote the rest of the tuple
	MatchTuple    = "tuple"     // same 4-tuple; an ISN is missing (handshake not captured)
)

// How the capture nearer the client was found.
const (
	PositionHandshake = "handshake" // from the handshake's timing in each capture
	PositionOrder     = "order"     // assumed: the first capture is nearer the client
)

// Result compares capture A with capture B.
type Result struct {
	A     string       `json:"a"` // the captures' names
	B     string       `json:"b"`
	Conns []ConnResult `json:"connections"`
	// Connections that only one capture holds (never crossed, or filtered
	// out at the other point), by the capture's flow id.
	OnlyA []uint64 `json:"only_a,omitempty"`
	OnlyB []uint64 `json:"only_b,omitempty"`
	// Truncated is set when a capture held more segments than the bound:
	// figures cover the segments kept.
	Truncated bool `json:"truncated,omitempty"`
	// DropsA/DropsB are the packets each capture reported dropping: a drop
	// in the downstream capture counts as a loss on the path.
	DropsA uint64 `json:"capture_drops_a,omitempty"`
	DropsB uint64 `json:"capture_drops_b,omitempty"`
}

// ConnResult is one connection seen by both captures.
type ConnResult struct {
	FlowA  uint64 `json:"flow_a"`
	FlowB  uint64 `json:"flow_b"`
	Client string `json:"client"` // as capture A saw it
	Server string `json:"server"`
	// ClientB/ServerB are set when B saw another tuple (a NAT between).
	ClientB string `json:"client_b,omitempty"`
	ServerB string `json:"server_b,omitempty"`
	Match   string `json:"match"`
	// NearClient is "a" or "b": the capture taken nearer the client, i.e.
	// upstream of the client's data; Position says how it was found.
	NearClient string            `json:"near_client"`
	Position   string            `json:"position"`
	Start      int64             `json:"-"` // the connection's first packet in capture A (ns)
	Dirs       [2]DirStats       `json:"directions"`
	ends       [2]netip.AddrPort // client and server as A saw them
}

// DirStats are one direction's figures: what the upstream capture saw sent
// and what of it the downstream capture saw arrive.
type DirStats struct {
	Dir  string `json:"dir"`  // c2s or s2c
	From string `json:"from"` // "a" or "b": the upstream capture
	// Data segments (payload, SYN or FIN) the upstream capture saw, and of
	// them those the downstream capture never saw.
	DataSent int `json:"data_sent"`
	DataLost int `json:"data_lost"`
	// Pure ACKs (no payload, SYN, FIN or RST) likewise.
	ACKsSent int `json:"acks_sent"`
	ACKsLost int `json:"acks_lost"`
	// OnlyDown counts segments the downstream capture has and the upstream
	// does not: the upstream capture dropped them, or something between
	// re-segmented or rewrote them.
	OnlyDown int `json:"only_downstream,omitempty"`
	// One-way delay of every segment that crossed (downstream time minus
	// upstream time). It includes the offset between the two capture
	// clocks, which is zero only when both captures share one clock.
	Delay DelayStats `json:"one_way_delay"`
	// LostFrames are the upstream frame numbers of the lost data segments
	// (at most MaxListed).
	LostFrames []uint64 `json:"lost_frames,omitempty"`
	// Segs is every upstream segment in capture order with its fate, for
	// the charts.
	Segs []SegPair `json:"-"`
}

// MaxListed bounds LostFrames.
const MaxListed = 1000

// DelayStats summarise one-way delays, in milliseconds.
type DelayStats struct {
	Samples int     `json:"samples"`
	MinMS   float64 `json:"min_ms"`
	P50MS   float64 `json:"p50_ms"`
	P95MS   float64 `json:"p95_ms"`
	MaxMS   float64 `json:"max_ms"`
}

// SegPair is one upstream segment and, when it arrived, its downstream twin.
type SegPair struct {
	Up     uint64 // upstream frame
	Down   uint64 // downstream frame, 0 when the segment never arrived
	TS     int64  // upstream capture time (ns)
	Delay  int64  // downstream minus upstream time (ns); 0 when lost
	RelSeq uint32 // sequence number relative to the direction's ISN
	Len    uint32
	Data   bool // payload, SYN or FIN (otherwise a pure ACK or RST)
}

// Lost reports whether the segment never reached the downstream capture.
func (s *SegPair) Lost() bool { return s.Down == 0 }

// Pair matches the connections of a and b and compares them.
func Pair(a, b *Capture) *Result {
	res := &Result{A: a.Name, B: b.Name, Conns: []ConnResult{}, Truncated: a.Truncated || b.Truncated, DropsA: a.Drops, DropsB: b.Drops}
	used := make(map[*Conn]bool)
	byTuple := make(map[[2]netip.AddrPort][]*Conn)
	byISN := make(map[[2]uint32][]*Conn)
	for _, c := range b.Conns {
		byTuple[[2]netip.AddrPort{c.Client, c.Server}] = append(byTuple[[2]netip.AddrPort{c.Client, c.Server}], c)
		if c.HasISN[0] && c.HasISN[1] {
			byISN[c.ISN] = append(byISN[c.ISN], c)
		}
	}
	for _, ca := range a.Conns {
		cb, how := matchConn(ca, byTuple, byISN, used)
		if cb == nil {
			res.OnlyA = append(res.OnlyA, ca.Flow)
			continue
		}
		used[cb] = true
		res.Conns = append(res.Conns, compare(ca, cb, how))
	}
	for _, c := range b.Conns {
		if !used[c] {
			res.OnlyB = append(res.OnlyB, c.Flow)
		}
	}
	return res
}

// matchConn finds a's twin among b's unused connections.
func matchConn(a *Conn, byTuple map[[2]netip.AddrPort][]*Conn, byISN map[[2]uint32][]*Conn, used map[*Conn]bool) (*Conn, string) {
	both := a.HasISN[0] && a.HasISN[1]
	var tupleOnly *Conn
	for _, c := range byTuple[[2]netip.AddrPort{a.Client, a.Server}] {
		if used[c] {
			continue
		}
		if both && c.HasISN[0] && c.HasISN[1] {
			if c.ISN == a.ISN {
				return c, MatchTupleISN
			}
			continue // the same tuple reused by another connection
		}
		if sameKnownISN(a, c) && tupleOnly == nil {
			tupleOnly = c
		}
	}
	if both {
		for _, c := range byISN[a.ISN] {
			if !used[c] && (c.Client.Port() == a.Client.Port() || c.Server.Port() == a.Server.Port()) {
				return c, MatchISN
			}
		}
	}
	if tupleOnly != nil {
		return tupleOnly, MatchTuple
	}
	return nil, ""
}

// sameKnownISN reports whether the ISNs both captures know agree.
func sameKnownISN(a, b *Conn) bool {
	for d := range 2 {
		if a.HasISN[d] && b.HasISN[d] && a.ISN[d] != b.ISN[d] {
			return false
		}
	}
	return true
}

// nearClient says which capture point is nearer the client. Near the
// client, the SYN → SYN/ACK gap holds the path's round trip and the SYN/ACK
// → ACK gap only the client's turnaround; near the server it is the other
// way round. Both gaps are differences within one capture, so the clocks'
// offset does not matter. Without both handshakes, the first capture is
// taken to be nearer the client.
func nearClient(a, b *Conn) (aNear bool, how string) {
	score := func(c *Conn) (int64, bool) {
		if c.synTS == 0 || c.synAckTS == 0 || c.ackTS == 0 {
			return 0, false
		}
		return (c.synAckTS - c.synTS) - (c.ackTS - c.synAckTS), true
	}
	sa, okA := score(a)
	sb, okB := score(b)
	if !okA || !okB || sa == sb {
		return true, PositionOrder
	}
	return sa > sb, PositionHandshake
}

func compare(a, b *Conn, how string) ConnResult {
	r := ConnResult{FlowA: a.Flow, FlowB: b.Flow, Client: a.Client.String(), Server: a.Server.String(), Match: how,
		ends: [2]netip.AddrPort{a.Client, a.Server}}
	if a.Client != b.Client || a.Server != b.Server {
		r.ClientB, r.ServerB = b.Client.String(), b.Server.String()
	}
	for d := range 2 {
		if len(a.Segs[d]) > 0 && (r.Start == 0 || a.Segs[d][0].TS < r.Start) {
			r.Start = a.Segs[d][0].TS
		}
	}
	aNear, pos := nearClient(a, b)
	r.Position = pos
	r.NearClient = "b"
	if aNear {
		r.NearClient = "a"
	}
	for d := range 2 {
		// The client's data goes from the capture near the client to the
		// other; the server's the other way.
		up, down, from := a, b, "a"
		if aNear != (d == int(events.DirC2S)) {
			up, down, from = b, a, "b"
		}
		r.Dirs[d] = compareDir(up, down, events.Dir(d))
		r.Dirs[d].From = from
	}
	return r
}

// segKey is what every transmission of the same segment shares. Pure ACKs
// key on the acknowledgment number too: they all carry the same sequence
// number.
type segKey struct {
	seq, ack, len uint32
	flags         uint16
}

const keyFlags = events.FlagSYN | events.FlagFIN | events.FlagRST

func keyOf(s *Segment) segKey {
	k := segKey{seq: s.Seq, len: s.Len, flags: s.Flags & keyFlags}
	if !s.data() {
		k.ack = s.Ack
	}
	return k
}

// maxCandidates bounds the transmissions of one key compared per downstream
// segment (a long run of duplicate ACKs).
const maxCandidates = 64

// compareDir matches one direction's downstream segments with upstream ones.
// A downstream segment takes the unmatched upstream transmission of the same
// key that agrees with it on most of: IP ID, TCP timestamp, ACK number and
// window (a retransmission differs from the original in the first two on
// Linux); on a tie, the earliest. Whatever stays unmatched upstream never
// arrived.
func compareDir(up, down *Conn, d events.Dir) DirStats {
	us, ds := up.Segs[d], down.Segs[d]
	st := DirStats{Dir: d.String()}
	cands := make(map[segKey][]int32, len(us))
	for i := range us {
		k := keyOf(&us[i])
		cands[k] = append(cands[k], int32(i))
	}
	match := make([]int32, len(us)) // downstream index + 1, 0 unmatched
	useIPID := up.Client.Addr().Is4() && distinctIPIDs(us)
	for j := range ds {
		s := &ds[j]
		list := cands[keyOf(s)]
		best, bestScore, seen := -1, -1, 0
		for _, i := range list {
			if match[i] != 0 {
				continue
			}
			if seen++; seen > maxCandidates {
				break
			}
			u := &us[i]
			score := 0
			if useIPID && u.IPID == s.IPID {
				score += 8
			}
			if u.HasTS && s.HasTS && u.TSVal == s.TSVal {
				score += 4
			}
			if u.Ack == s.Ack {
				score += 2
			}
			if u.Window == s.Window {
				score++
			}
			if score > bestScore {
				best, bestScore = int(i), score
			}
		}
		// Drop matched heads so long runs stay cheap.
		for len(list) > 0 && match[list[0]] != 0 {
			list = list[1:]
		}
		cands[keyOf(s)] = list
		if best < 0 {
			st.OnlyDown++
			continue
		}
		match[best] = int32(j + 1)
	}
	base := up.ISN[d]
	if !up.HasISN[d] && len(us) > 0 {
		base = us[0].Seq // relative to the first sequence number seen
	}
	var delays []int64
	st.Segs = make([]SegPair, len(us))
	for i := range us {
		u := &us[i]
		p := SegPair{Up: u.Frame, TS: u.TS, RelSeq: u.Seq - base, Len: u.Len, Data: u.data()}
		if m := match[i]; m != 0 {
			dn := &ds[m-1]
			p.Down, p.Delay = dn.Frame, dn.TS-u.TS
			delays = append(delays, p.Delay)
		}
		st.Segs[i] = p
		switch {
		case p.Data:
			st.DataSent++
			if p.Lost() {
				st.DataLost++
				if len(st.LostFrames) < MaxListed {
					st.LostFrames = append(st.LostFrames, u.Frame)
				}
			}
		case u.Flags&events.FlagRST == 0:
			st.ACKsSent++
			if p.Lost() {
				st.ACKsLost++
			}
		}
	}
	st.Delay = delayStats(delays)
	return st
}

// distinctIPIDs reports whether the IP ID tells segments apart: a stack
// that sends 0 on every segment with DF set gives no information.
func distinctIPIDs(us []Segment) bool {
	for i := 1; i < len(us); i++ {
		if us[i].IPID != us[0].IPID {
			return true
		}
	}
	return false
}

func delayStats(ns []int64) DelayStats {
	if len(ns) == 0 {
		return DelayStats{}
	}
	slices.Sort(ns)
	q := func(p float64) float64 {
		i := int(p * float64(len(ns)-1))
		return ms(ns[i])
	}
	return DelayStats{Samples: len(ns), MinMS: ms(ns[0]), P50MS: q(0.5), P95MS: q(0.95), MaxMS: ms(ns[len(ns)-1])}
}

// ms is a duration in milliseconds, to the microsecond.
func ms(ns int64) float64 { return float64(ns/1000) / 1000 }

// Totals adds up the directions of every connection: data and ACK segments
// sent and lost per direction (c2s, s2c).
func (r *Result) Totals() [2]DirStats {
	var t [2]DirStats
	for d := range 2 {
		t[d].Dir = events.Dir(d).String()
	}
	for i := range r.Conns {
		for d := range 2 {
			s := &r.Conns[i].Dirs[d]
			t[d].DataSent += s.DataSent
			t[d].DataLost += s.DataLost
			t[d].ACKsSent += s.ACKsSent
			t[d].ACKsLost += s.ACKsLost
			t[d].OnlyDown += s.OnlyDown
		}
	}
	return t
}

// Keep keeps the connections for which keep (given A's flow id, client and
// server) is true, e.g. a connection filter's MatchConn.
func (r *Result) Keep(keep func(flowA uint64, client, server netip.AddrPort) bool) {
	r.Conns = slices.DeleteFunc(r.Conns, func(c ConnResult) bool { return !keep(c.FlowA, c.ends[0], c.ends[1]) })
}

// String names the connection for messages: "flow 3/5 10.0.0.1:40000 → 10.0.0.2:443".
func (c *ConnResult) String() string {
	return fmt.Sprintf("flow %d/%d %s → %s", c.FlowA, c.FlowB, c.Client, c.Server)
}
