package conntrack

import (
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"sort"

	"github.com/tcpviz/tcpviz/events"
)

// A connection that has sent only its first SYN (a port scan, a SYN flood,
// a server that never answers) is kept as a synRec instead of a Conn: the
// key and the few fields of that SYN its summary needs, without pointers,
// in one slab. It becomes a Conn when anything else happens to it (a
// second packet, an event, a lookup that may change it), and leaves
// the table by the same rules as any connection, so the output is the same.
// A half-open connection costs about 100 bytes (the record and its index
// slot) where a Conn and its map entries cost about 420.
type synRec struct {
	k     key
	id    uint64
	ts    int64
	frame uint64
	seq   uint32
	wire  uint32
	mss   uint16
	encap uint16 // index into Table.encaps
	ws    int8   // window shift offered, -1 none
	cliB  bool   // the client is the key's b side
	dead  bool   // left the table (became a Conn or expired)
}

// synFits reports whether the first packet of a new connection is a SYN a
// synRec holds exactly: no ACK, FIN or RST, no payload, outside tunnels.
func synFits(k key, p *events.Packet) bool {
	return p.Flags&(events.FlagSYN|events.FlagACK|events.FlagFIN|events.FlagRST) == events.FlagSYN &&
		p.Len == 0 && p.Tunnel == 0 && k.tun == 0
}

// synTable holds the records in id order, which is arrival order: a
// record is found by id with a binary search, and by key through an open
// addressing index of slab positions (4 bytes a slot, where a Go map entry
// would cost 60). Records that left stay in the slab, marked dead, until
// they are as many as the live ones; the slab is then compacted and the
// index rebuilt.
type synTable struct {
	recs  []synRec
	live  int
	slots []uint32 // 0 empty, tomb, else position in recs + 1
	used  int      // slots not empty
	seed  uint64
}

const tomb = ^uint32(0)

func (s *synTable) hash(k *key) uint64 {
	w := func(b []byte) uint64 {
		return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
			uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
	}
	h := s.seed
	for _, x := range [...]uint64{w(k.a[:8]), w(k.a[8:]), w(k.b[:8]), w(k.b[8:]), uint64(k.tun),
		uint64(k.ap) | uint64(k.bp)<<16 | uint64(k.v4)<<32} {
		hi, lo := bits.Mul64(h^x, 0x9e3779b97f4a7c15)
		h = hi ^ lo
	}
	return h
}

// find returns the position of the live record of k.
func (s *synTable) find(k *key) (int, bool) {
	if s.live == 0 {
		return 0, false
	}
	mask := uint64(len(s.slots) - 1)
	for i := s.hash(k) & mask; ; i = (i + 1) & mask {
		switch v := s.slots[i]; v {
		case 0:
			return 0, false
		case tomb:
		default:
			if s.recs[v-1].k == *k {
				return int(v - 1), true
			}
		}
	}
}

// byID returns the position of the live record of connection id.
func (s *synTable) byID(id uint64) (int, bool) {
	if s.live == 0 {
		return 0, false
	}
	i := sort.Search(len(s.recs), func(i int) bool { return s.recs[i].id >= id })
	if i < len(s.recs) && s.recs[i].id == id && !s.recs[i].dead {
		return i, true
	}
	return 0, false
}

// add appends r, whose id is above every id in the table.
func (s *synTable) add(r synRec) {
	if dead := len(s.recs) - s.live; dead > s.live+64 {
		s.compact()
	}
	if (s.used+1)*8 > len(s.slots)*5 {
		s.rebuild()
	}
	s.recs = append(s.recs, r)
	s.live++
	s.insert(&s.recs[len(s.recs)-1].k, uint32(len(s.recs)))
}

func (s *synTable) insert(k *key, v uint32) {
	mask := uint64(len(s.slots) - 1)
	for i := s.hash(k) & mask; ; i = (i + 1) & mask {
		if s.slots[i] == 0 {
			s.slots[i] = v
			s.used++
			return
		}
	}
}

// remove marks the record at position i dead.
func (s *synTable) remove(i int) {
	r := &s.recs[i]
	mask := uint64(len(s.slots) - 1)
	for j := s.hash(&r.k) & mask; ; j = (j + 1) & mask {
		if s.slots[j] == uint32(i+1) {
			s.slots[j] = tomb
			break
		}
	}
	r.dead = true
	s.live--
}

// compact drops the dead records.
func (s *synTable) compact() {
	live := s.recs[:0]
	for _, r := range s.recs {
		if !r.dead {
			live = append(live, r)
		}
	}
	s.recs = live
	s.rebuild()
}

// rebuild sizes the index for the live records (at most half full) and
// fills it again, without tombstones.
func (s *synTable) rebuild() {
	if s.seed == 0 {
		s.seed = rand.Uint64() | 1
	}
	n := 64
	for n < 2*(s.live+1) {
		n *= 2
	}
	if n == len(s.slots) {
		clear(s.slots)
	} else {
		s.slots = make([]uint32, n)
	}
	s.used = 0
	for i := range s.recs {
		if !s.recs[i].dead {
			s.insert(&s.recs[i].k, uint32(i+1))
		}
	}
}

// keepSYN records the SYN that opens connection id as a synRec, when it
// fits one.
func (t *Table) keepSYN(k key, id uint64, src netip.AddrPort, p *events.Packet) bool {
	if !t.compactSYN || !synFits(k, p) {
		return false
	}
	e, ok := t.encapIndex(p.Encap)
	if !ok {
		return false
	}
	r := synRec{k: k, id: id, ts: p.TS, frame: p.Frame, seq: p.Seq, wire: p.WireLen, mss: p.Options.MSS,
		encap: e, ws: -1, cliB: src.Addr().As16() != k.a || src.Port() != k.ap}
	if p.Options.HasWScale {
		r.ws = int8(p.Options.WScale)
	}
	t.syns.add(r)
	return true
}

// encapIndex interns an encapsulation path (the decoder has one string per
// distinct path, so there are few).
func (t *Table) encapIndex(s string) (uint16, bool) {
	if i, ok := t.encapIdx[s]; ok {
		return i, true
	}
	if len(t.encaps) > 1<<16-1 {
		return 0, false
	}
	if t.encapIdx == nil {
		t.encapIdx = make(map[string]uint16)
	}
	i := uint16(len(t.encaps))
	t.encaps = append(t.encaps, s)
	t.encapIdx[s] = i
	return i, true
}

// fill makes c the connection r holds: what newConn and update make of a
// bare SYN.
func (t *Table) fill(c *Conn, r *synRec) {
	a := addrPort(r.k.a, r.k.ap, r.k.v4&1 != 0)
	b := addrPort(r.k.b, r.k.bp, r.k.v4&2 != 0)
	if r.cliB {
		a, b = b, a
	}
	*c = Conn{ID: r.id, Client: a, Server: b, wscale: [2]int8{r.ws, -1},
		first: r.ts, last: r.ts, firstFrame: r.frame, lastFrame: r.frame, synAt: r.ts,
		encap: t.encaps[r.encap]}
	c.packets[0] = 1
	c.wire[0] = uint64(r.wire)
	c.base[0], c.synSeq[0] = r.seq, r.seq
	c.baseSet[0], c.synSeen[0] = true, true
	c.mss[0] = r.mss
	c.history[0] = histSYN
	c.hist[0], c.nhist = 'S', 1
}

func addrPort(a [16]byte, port uint16, v4 bool) netip.AddrPort {
	x := netip.AddrFrom16(a)
	if v4 {
		x = x.Unmap()
	}
	return netip.AddrPortFrom(x, port)
}

// promote turns the record at position i into a Conn in the table.
func (t *Table) promote(i int) *Conn {
	r := &t.syns.recs[i]
	c := &Conn{}
	t.fill(c, r)
	t.conns[r.k] = c
	t.byID[c.ID] = c
	t.syns.remove(i)
	return c
}

// expireSYN lets the record at position i leave the table.
func (t *Table) expireSYN(i int) {
	c := &t.scratch
	t.fill(c, &t.syns.recs[i])
	t.syns.remove(i)
	if t.onExpire != nil {
		t.onExpire(c)
	}
	*c = Conn{}
}

// setSYN fills what Observe fills in a bare SYN that opens a connection
// (the latest id): the client's first packet, nothing relative yet.
func (t *Table) setSYN(p *events.Packet) {
	p.Flow, p.Dir = t.nextID, events.DirC2S
	p.RelSeq, p.RelAck = 0, 0
	p.WindowScaled = int64(p.Window)
}
