package decode

import (
	"slices"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/tcpviz/tcpviz/events"
)

// FragConfig bounds IP fragment reassembly.
type FragConfig struct {
	// Timeout drops a datagram whose first fragment arrived this long ago
	// (capture time) without it being completed.
	Timeout time.Duration
	// MaxBytes bounds the fragment bytes held in total; the oldest datagrams
	// are dropped to make room.
	MaxBytes int
	// MaxPairBytes bounds the bytes held for one source-destination pair, so
	// one sender cannot take all of MaxBytes.
	MaxPairBytes int
	// MaxDatagrams bounds the datagrams in reassembly at once.
	MaxDatagrams int
}

// DefaultFragConfig is Linux's timeout (30 s) with room for a few hundred
// full-size datagrams.
func DefaultFragConfig() FragConfig {
	return FragConfig{Timeout: 30 * time.Second, MaxBytes: 16 << 20, MaxPairBytes: 1 << 20, MaxDatagrams: 8192}
}

// FragStats counts what happened to fragmented datagrams.
type FragStats struct {
	Reassembled uint64 // datagrams completed
	Expired     uint64 // datagrams dropped incomplete after the timeout or at the end
	Evicted     uint64 // datagrams dropped incomplete to stay within the limits
	Overlaps    uint64 // IPv6 datagrams dropped for overlapping fragments (RFC 5722)
	Held        int    // fragment bytes held now
	MaxHeld     int    // the most fragment bytes held at once
}

// Add adds another decoder's counters (MaxHeld is the larger of the two).
func (f *FragStats) Add(o FragStats) {
	f.Reassembled += o.Reassembled
	f.Expired += o.Expired
	f.Evicted += o.Evicted
	f.Overlaps += o.Overlaps
	f.Held += o.Held
	f.MaxHeld = max(f.MaxHeld, o.MaxHeld)
}

// fragKey names a datagram: addresses, identification, protocol (IPv4), and
// where in the frame the IP header sat (tunnel and depth), so the same
// inner addresses in two tunnels never mix.
type fragKey struct {
	src, dst [16]byte
	id       uint32
	proto    uint8
	v6       bool
	depth    uint8
	tunnel   events.Tunnel
}

type pairKey struct{ src, dst [16]byte }

type piece struct {
	off  int
	data []byte
}

type datagram struct {
	key      fragKey
	first    int64 // capture time of the first fragment seen
	pieces   []piece
	total    int // payload length, known from the last fragment; -1 before
	held     int
	proto    uint8 // IPv6: next header of the first fragment
	dead     bool  // overlapping IPv6 fragments: drop the rest (RFC 5722)
	capLen   uint32
	wireLen  uint32
	gone     bool // removed from the table
	hasFirst bool
}

// overhead is what one held fragment costs besides its bytes.
const overhead = 64

type reassembler struct {
	cfg   FragConfig
	m     map[fragKey]*datagram
	pairs map[pairKey]int
	queue []*datagram // in order of first fragment, for expiry and eviction
	out   []byte
	proto layers.IPProtocol // next header of the datagram just completed (IPv6)
	stats FragStats
}

// reassemble adds one whole fragment. It returns the datagram's payload when
// this fragment completed it, SkipFragment while it is incomplete, and
// SkipFragmentDropped when the fragment cannot be used.
func (d *Decoder) reassemble(k *fragKey, off int, more bool, data []byte, proto uint8) ([]byte, SkipReason) {
	if d.frag == nil {
		d.frag = &reassembler{cfg: d.fragCfg, m: make(map[fragKey]*datagram), pairs: make(map[pairKey]int)}
	}
	r := d.frag
	r.expire(d.now)
	end := off + len(data)
	if end > 0xffff || (more && len(data)%8 != 0) || len(data) == 0 && more {
		return nil, SkipFragmentDropped // longer than any datagram, or a middle fragment not in 8-byte units
	}
	g := r.m[*k]
	if g == nil {
		if r.cfg.MaxDatagrams > 0 && len(r.m) >= r.cfg.MaxDatagrams {
			r.evictOldest()
		}
		g = &datagram{key: *k, first: d.now, total: -1}
		r.m[*k] = g
		r.queue = append(r.queue, g)
	}
	if g.dead {
		return nil, SkipFragmentDropped
	}
	if !more {
		if (g.total >= 0 && g.total != end) || (len(g.pieces) > 0 && g.pieces[len(g.pieces)-1].off+len(g.pieces[len(g.pieces)-1].data) > end) {
			r.kill(g) // two different ends: the datagram cannot be rebuilt
			return nil, SkipFragmentDropped
		}
		g.total = end
	} else if g.total >= 0 && end > g.total {
		r.kill(g)
		return nil, SkipFragmentDropped
	}
	// Duplicates are ignored; other overlaps abandon an IPv6 datagram (RFC
	// 5722) and are kept for IPv4 (see the copy below).
	i, _ := slices.BinarySearchFunc(g.pieces, off, func(p piece, off int) int { return p.off - off })
	for j := max(i-1, 0); j < len(g.pieces) && g.pieces[j].off < end; j++ {
		p := g.pieces[j]
		if p.off+len(p.data) <= off {
			continue
		}
		if p.off == off && len(p.data) == len(data) {
			return nil, SkipFragment // a duplicate
		}
		if k.v6 {
			r.stats.Overlaps++
			r.kill(g)
			return nil, SkipFragmentDropped
		}
	}
	pk := pairKey{k.src, k.dst}
	cost := len(data) + overhead
	if r.cfg.MaxPairBytes > 0 && r.pairs[pk]+cost > r.cfg.MaxPairBytes {
		r.stats.Evicted++
		r.kill(g)
		return nil, SkipFragmentDropped
	}
	for r.cfg.MaxBytes > 0 && r.stats.Held+cost > r.cfg.MaxBytes && r.evictOldest() {
	}
	if g.gone { // evicted to make room for itself: the datagram is too big
		return nil, SkipFragmentDropped
	}
	if off == 0 {
		g.proto, g.hasFirst = proto, true
	}
	g.pieces = slices.Insert(g.pieces, i, piece{off, append([]byte(nil), data...)})
	g.held += cost
	g.capLen += d.capLen
	g.wireLen += d.wireLen
	r.pairs[pk] += cost
	r.stats.Held += cost
	r.stats.MaxHeld = max(r.stats.MaxHeld, r.stats.Held)
	if g.total < 0 || !g.hasFirst {
		return nil, SkipFragment
	}
	pos := 0
	for _, p := range g.pieces {
		if p.off > pos {
			return nil, SkipFragment // a hole
		}
		pos = max(pos, p.off+len(p.data))
	}
	// Complete: copy in offset order; where pieces overlap, the lower offset
	// wins, and at equal offsets the later arrival (it is inserted first),
	// as Wireshark orders its fragment list.
	// A new buffer each time: the segment may be kept (decoded ahead of the
	// pipeline) while later datagrams complete.
	r.out = make([]byte, g.total)
	pos = 0
	for _, p := range g.pieces {
		if e := p.off + len(p.data); e > pos {
			copy(r.out[pos:e], p.data[pos-p.off:])
			pos = e
		}
	}
	r.proto = layers.IPProtocol(g.proto)
	d.capLen, d.wireLen = g.capLen, g.wireLen
	r.stats.Reassembled++
	r.remove(g)
	return r.out, SkipNone
}

// kill drops a datagram's bytes but remembers it until the timeout, so
// its remaining fragments are dropped too.
func (r *reassembler) kill(g *datagram) {
	r.release(g)
	g.dead = true
}

func (r *reassembler) release(g *datagram) {
	pk := pairKey{g.key.src, g.key.dst}
	if n := r.pairs[pk] - g.held; n > 0 {
		r.pairs[pk] = n
	} else {
		delete(r.pairs, pk)
	}
	r.stats.Held -= g.held
	g.held, g.pieces = 0, nil
}

func (r *reassembler) remove(g *datagram) {
	r.release(g)
	g.gone = true
	if r.m[g.key] == g {
		delete(r.m, g.key)
	}
}

// expire drops datagrams older than the timeout. The queue is in arrival
// order, so it stops at the first young one.
func (r *reassembler) expire(now int64) {
	for len(r.queue) > 0 {
		g := r.queue[0]
		if !g.gone && (r.cfg.Timeout <= 0 || now-g.first < int64(r.cfg.Timeout)) {
			break
		}
		if !g.gone {
			if !g.dead {
				r.stats.Expired++
			}
			r.remove(g)
		}
		r.queue[0] = nil
		r.queue = r.queue[1:]
	}
	if cap(r.queue) > 64 && len(r.queue) < cap(r.queue)/4 {
		r.queue = slices.Clip(slices.Clone(r.queue))
	}
}

// evictOldest drops the oldest datagram still held; false when none is.
func (r *reassembler) evictOldest() bool {
	for len(r.queue) > 0 {
		g := r.queue[0]
		r.queue[0] = nil
		r.queue = r.queue[1:]
		if !g.gone {
			if !g.dead {
				r.stats.Evicted++
			}
			r.remove(g)
			return true
		}
	}
	return false
}

// Flush drops every incomplete datagram (end of input) and counts them as
// expired.
func (d *Decoder) Flush() {
	if d.frag == nil {
		return
	}
	r := d.frag
	for _, g := range r.queue {
		if !g.gone {
			if !g.dead {
				r.stats.Expired++
			}
			r.remove(g)
		}
	}
	r.queue = nil
}
