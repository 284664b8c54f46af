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
// The record also holds the rest of the SYN the detectors read (SYN), so
// they keep no copy of their own. A half-open connection costs about 120
// bytes (the record and its index slot) where a Conn and its map entries
// cost about 420.
type synRec struct {
	k            key
	id           uint64
	ts           int64
	now          int64 // the detectors' clock when the SYN came (SetSYNClock), else ts
	frame        uint64
	seq, ack     uint32
	tsVal, tsEcr uint32
	wire         uint32
	flags        uint16
	window       uint16
	mss          uint16
	encap        uint16 // index into Table.encaps
	wscale       uint8
	opts         uint8 // opt* bits
	cliB         bool  // the client is the key's b side
	dead         bool  // left the table (became a Conn or expired)
}

const (
	optMSS = 1 << iota
	optWScale
	optSACKPerm
	optTS
)

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
// index rebuilt. The slab is made of fixed chunks, so it grows without
// copying (a slice grown by append allocates four times its final size on
// the way, and holds two copies while it grows).
type synTable struct {
	chunks []*[synChunk]synRec
	n      int // records in the slab, live or dead
	live   int
	slots  []uint32 // 0 empty, tomb, else position in the slab + 1
	used   int      // slots not empty
	seed   uint64
}

const tomb = ^uint32(0)

const synChunk = 2048 // records per chunk (224 KB)

// at returns the record at position i < n.
func (s *synTable) at(i int) *synRec { return &s.chunks[i/synChunk][i%synChunk] }

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
			if s.at(int(v-1)).k == *k {
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
	if r := s.at(s.n - 1); r.id == id { // the SYN just kept, as the detectors ask
		return s.n - 1, !r.dead
	}
	i := sort.Search(s.n, func(i int) bool { return s.at(i).id >= id })
	if i < s.n && s.at(i).id == id && !s.at(i).dead {
		return i, true
	}
	return 0, false
}

// add appends r, whose id is above every id in the table.
func (s *synTable) add(r synRec) {
	if dead := s.n - s.live; dead > s.live+64 {
		s.compact()
	}
	if (s.used+1)*8 > len(s.slots)*5 {
		s.rebuild()
	}
	if s.n == len(s.chunks)*synChunk {
		s.chunks = append(s.chunks, new([synChunk]synRec))
	}
	*s.at(s.n) = r
	s.n++
	s.live++
	s.insert(&s.at(s.n-1).k, uint32(s.n))
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
	r := s.at(i)
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
	w := 0
	for i := range s.n {
		if r := s.at(i); !r.dead {
			*s.at(w) = *r
			w++
		}
	}
	s.n = w
	// The first chunk stays: short connections empty the slab every few
	// dozen SYNs, and each new chunk is 224 KB to allocate and clear.
	used := max((w+synChunk-1)/synChunk, 1)
	clear(s.chunks[used:])
	s.chunks = s.chunks[:used]
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
	for i := range s.n {
		if !s.at(i).dead {
			s.insert(&s.at(i).k, uint32(i+1))
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
	o := &p.Options
	r := synRec{k: k, id: id, ts: p.TS, now: p.TS, frame: p.Frame, seq: p.Seq, ack: p.Ack, tsVal: o.TSVal, tsEcr: o.TSEcr,
		wire: p.WireLen, flags: p.Flags, window: p.Window, mss: o.MSS, encap: e, wscale: o.WScale,
		cliB: src.Addr().As16() != k.a || src.Port() != k.ap}
	for _, b := range [...]struct {
		on  bool
		bit uint8
	}{{o.HasMSS, optMSS}, {o.HasWScale, optWScale}, {o.SACKPerm, optSACKPerm}, {o.HasTS, optTS}} {
		if b.on {
			r.opts |= b.bit
		}
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
	a, b := r.endpoints()
	ws := int8(-1)
	if r.opts&optWScale != 0 {
		ws = int8(r.wscale)
	}
	*c = Conn{ID: r.id, Client: a, Server: b, wscale: [2]int8{ws, -1},
		first: r.ts, last: r.ts, firstFrame: r.frame, lastFrame: r.frame, synAt: r.ts,
		encap: t.encaps[r.encap]}
	c.packets[0] = 1
	c.wire[0] = uint64(r.wire)
	c.base[0], c.synSeq[0] = r.seq, r.seq
	c.baseSet[0], c.synSeen[0] = true, true
	c.mss[0] = r.mss
	c.history[0] = histSYN
	c.hist[0], c.nhist = 'S', 1
	c.setShift() // as update leaves it after the SYN
}

// endpoints returns the client and the server.
func (r *synRec) endpoints() (client, server netip.AddrPort) {
	a := addrPort(r.k.a, r.k.ap, r.k.v4&1 != 0)
	b := addrPort(r.k.b, r.k.bp, r.k.v4&2 != 0)
	if r.cliB {
		return b, a
	}
	return a, b
}

func addrPort(a [16]byte, port uint16, v4 bool) netip.AddrPort {
	x := netip.AddrFrom16(a)
	if v4 {
		x = x.Unmap()
	}
	return netip.AddrPortFrom(x, port)
}

// promote turns the record at position i into a Conn in the table, after
// telling OnPromote's functions (the detectors grow their state from the
// SYN while it is still there).
func (t *Table) promote(i int) *Conn {
	id := t.syns.at(i).id
	for _, fn := range t.onPromote {
		fn(id)
	}
	r := t.syns.at(i)
	c := &Conn{}
	t.fill(c, r)
	if x := t.synExtra[id]; x != nil {
		c.Extra = x
		delete(t.synExtra, id)
	}
	t.conns[r.k] = c
	t.byID[c.ID] = c
	t.syns.remove(i)
	return c
}

// expireSYN lets the record at position i leave the table. Its SYN stays
// readable (SYN) while onExpire runs, as a Conn's state is.
func (t *Table) expireSYN(i int) {
	c := &t.scratch
	t.leaving = *t.syns.at(i)
	t.fill(c, &t.leaving)
	if x := t.synExtra[c.ID]; x != nil {
		c.Extra = x
		delete(t.synExtra, c.ID)
	}
	t.syns.remove(i)
	if t.onExpire != nil {
		t.onExpire(c)
	}
	*c = Conn{}
	t.leaving = synRec{}
}

// OnPromote adds a function called with the id of a connection that has
// sent only its SYN just before it becomes a Conn (anything else happened
// to it): until then, SYN rebuilds that SYN.
func (t *Table) OnPromote(fn func(id uint64)) { t.onPromote = append(t.onPromote, fn) }

// SYN rebuilds into p the SYN of a live connection that has sent nothing
// else (as Observe filled it), and reports whether id is one, with the
// clock SetSYNClock gave it. The table keeps these SYNs so that the
// detectors need no copy of their own.
func (t *Table) SYN(id uint64, p *events.Packet) (now int64, ok bool) {
	r := t.synRec(id)
	if r == nil {
		return 0, false
	}
	cli, srv := r.endpoints()
	*p = events.Packet{Frame: r.frame, TS: r.ts, Src: cli.Addr(), Dst: srv.Addr(), SrcPort: cli.Port(), DstPort: srv.Port(),
		Seq: r.seq, Ack: r.ack, Flags: r.flags, Window: r.window, WireLen: r.wire, Encap: t.encaps[r.encap],
		Options: events.Options{MSS: r.mss, WScale: r.wscale, HasMSS: r.opts&optMSS != 0, HasWScale: r.opts&optWScale != 0,
			SACKPerm: r.opts&optSACKPerm != 0, HasTS: r.opts&optTS != 0, TSVal: r.tsVal, TSEcr: r.tsEcr},
		Flow: id, Dir: events.DirC2S, WindowScaled: int64(r.window)}
	return r.now, true
}

// SetSYNClock keeps with the SYN of connection id (SYN) the clock of the
// detectors when it came: the newest time they had seen, which a SYN
// written out of order is older than.
func (t *Table) SetSYNClock(id uint64, now int64) {
	if r := t.synRec(id); r != nil {
		r.now = now
	}
}

func (t *Table) synRec(id uint64) *synRec {
	if t.leaving.id == id && id != 0 {
		return &t.leaving
	}
	if i, ok := t.syns.byID(id); ok {
		return t.syns.at(i)
	}
	return nil
}

// NextSYN returns the first live connection after id (in id order, which
// is arrival order) that has sent only its SYN, and that SYN's time.
func (t *Table) NextSYN(after uint64) (id uint64, ts int64, ok bool) {
	s := &t.syns
	if s.live == 0 {
		return 0, 0, false
	}
	for i := sort.Search(s.n, func(i int) bool { return s.at(i).id > after }); i < s.n; i++ {
		if r := s.at(i); !r.dead {
			return r.id, r.ts, true
		}
	}
	return 0, 0, false
}

// Extra returns the Extra of live connection id, allocated on first use,
// without making a half-open connection a Conn (Get would); nil when id
// is not in the table.
func (t *Table) Extra(id uint64) *Extra {
	if c := t.last; c != nil && c.ID == id {
		return c.X() // events are mostly about the latest packet's connection
	}
	if c := t.byID[id]; c != nil {
		return c.X()
	}
	if _, ok := t.syns.byID(id); !ok {
		return nil
	}
	x := t.synExtra[id]
	if x == nil {
		if t.synExtra == nil {
			t.synExtra = make(map[uint64]*Extra)
		}
		x = &Extra{}
		t.synExtra[id] = x
	}
	return x
}

// setSYN fills what Observe fills in a bare SYN that opens a connection
// (the latest id): the client's first packet, nothing relative yet.
func (t *Table) setSYN(p *events.Packet) {
	p.Flow, p.Dir = t.nextID, events.DirC2S
	p.RelSeq, p.RelAck = 0, 0
	p.WindowScaled = int64(p.Window)
}
