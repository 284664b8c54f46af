package driver

import (
	"context"
	"runtime"
	"sync/atomic"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/decode"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/pcapng"
)

// Reading and decoding run ahead of the pipeline on their own goroutine (one
// per input file), handing over batches of decoded records in file order.
// The pipeline — connections, detectors, writers — sees exactly the
// records, in exactly the order, a single goroutine would give it, so the
// output is the same; only the wall time changes.

// batchLen is the records per batch: large enough that the hand-off costs
// nothing per record, small enough that a batch stays in cache.
const batchLen = 256

// batchBytes ends a batch of large records before batchLen: what a file's
// queue holds in slabs stays near aheadQueue*batchBytes whatever the
// snapshot length.
const batchBytes = 128 << 10

// aheadQueue is the batches queued between a file's reader and the
// pipeline. On two cores the readers share the second core with the event
// writer, and the scheduler runs each for a while before the other; four
// batches (about 0.15 ms of the pipeline's work) ran dry in those turns
// and the pipeline waited for a core again after each, about a tenth of
// the wall time. Sixteen cover them. On one core nothing runs beside the
// reader, and four keep the batches (and slabs) under the heap the
// runtime starts with: sixteen cost a garbage collection in a run that
// had none, about 34 M instructions (most of them scanning gopacket's
// tables), more than the queue saves there.
const aheadQueue = 16

// oneCoreQueue is aheadQueue with one core.
const oneCoreQueue = 4

// queueLen is the queue's length for the cores the goroutines run on now.
func queueLen() int {
	if runtime.GOMAXPROCS(0) == 1 {
		return oneCoreQueue
	}
	return aheadQueue
}

// queue carries one file's batches from its reader to the pipeline. A
// reader that finds it full waits until the pipeline has taken half of it
// and then refills it in one go, rather than a batch each time one is
// taken: each of those turns woke the reader's core and put it to sleep
// again, and on two cores of a virtual machine the wake-ups (futex calls,
// the scheduler spinning) cost more than reading the batch.
type queue struct {
	c    chan *ahead
	room chan struct{} // a token when the pipeline took half the queue while the reader waited
	wait atomic.Bool   // the reader waits for room
}

func newAheadQueue() *queue {
	return &queue{c: make(chan *ahead, queueLen()), room: make(chan struct{}, 1)}
}

// put queues a, first waiting for half the queue to be free when it is
// full. It returns false when ctx is done first.
func (q *queue) put(ctx context.Context, a *ahead) bool {
	if len(q.c) == cap(q.c) {
		for {
			q.wait.Store(true) // then check: get sees either the flag or the room
			if len(q.c) <= cap(q.c)/2 {
				break
			}
			select {
			case <-q.room: // or a token left from before: check again
			case <-ctx.Done():
				return false
			}
		}
		q.wait.Store(false)
	}
	select {
	case q.c <- a:
		return true
	case <-ctx.Done():
		return false
	}
}

// get returns the next batch; false when the reader has closed the queue.
func (q *queue) get() (*ahead, bool) {
	var a *ahead
	var ok bool
	select {
	case a, ok = <-q.c:
	default:
		// Empty: whatever the reader saw of the queue's length, it
		// must not wait for room now.
		q.wake()
		a, ok = <-q.c
	}
	if ok && len(q.c) <= cap(q.c)/2 && q.wait.Load() {
		q.wake()
	}
	return a, ok
}

func (q *queue) wake() {
	q.wait.Store(false)
	select {
	case q.room <- struct{}{}:
	default:
	}
}

// freeLen is the batches the free list keeps for each file read at once:
// as many as can be out (the queue, the one the pipeline reads, the one
// the reader fills), so that it never drops one a reader will want again.
const freeLen = aheadQueue + 2

// slabsLen is the slabs the pool keeps for each file read at once: as many
// as a full queue of full batches points into, the reader's two and one
// the pipeline may still hold.
const slabsLen = aheadQueue*batchBytes/slabLen + 3

// stock is what the readers of all files share: batches and slabs the
// pipeline has finished with. A file's reader starts with those of the
// files before it instead of allocating its own (8 MiB of slabs for a ring
// of eight files, two garbage collections in a short run).
type stock struct {
	batches chan *ahead
	slabs   chan *slab
}

// newStock returns the stock for readers files read at once.
func newStock(readers int) *stock {
	return &stock{batches: make(chan *ahead, freeLen*readers), slabs: make(chan *slab, slabsLen*readers)}
}

// giveBack hands a batch the pipeline has finished with to the readers. One
// the free list cannot take lets go of its slabs, or they would never be
// lent again.
func giveBack(st *stock, a *ahead) {
	select {
	case st.batches <- a:
	default:
		a.reuse()
	}
}

// slabLen is the size of the buffers the reader reads into. The records of
// a batch point into them rather than into copies: a slab is lent to the
// reader again only when no batch with records in it is still out.
const slabLen = 256 << 10

// ahead is a batch of records read and decoded ahead of the pipeline.
type ahead struct {
	items  []item
	others []pcapng.Record // the records that are not packets, whole (items point to them)
	slabs  []*slab         // the slabs its records point into, one reference each
	offset int64           // reader offset after the last record
	end    error           // the reader's error after the last record; nil when more follow
	// compressed: the file is gzip'd, offset counts decompressed bytes.
	compressed bool
	// frag is the decoder's reassembly counters, in the file's last batch.
	frag decode.FragStats
}

// item is one record of a batch: a packet record decoded, with the
// record's Frame, TS and Interface in pkt, or (other > 0) the batch's
// others[other-1]. A packet's record is not kept whole: copying it (224
// bytes) was a tenth of the reader's instructions, and the item is half
// the size without it.
type item struct {
	pkt    events.Packet
	data   []byte // the packet record's captured bytes, in a slab the batch holds
	other  int32
	why    decode.SkipReason
	detail decode.Detail // what was unsupported, for SkipUnsupported and SkipLinkType
}

// slab is a buffer the reader reads into. Batches come back on a channel
// shared by the readers of all files, so its count is atomic.
type slab struct {
	b    []byte
	refs atomic.Int32 // the reader's while it reads into it, and one per batch
	pool chan *slab   // where it waits to be lent again; nil for an outsize one
}

func (s *slab) release() {
	if s.refs.Add(-1) == 0 && s.pool != nil {
		select {
		case s.pool <- s:
		default:
		}
	}
}

// slabs lends a reader its buffers (pcapng.Reader.SetBuffers).
type slabs struct {
	cur  *slab // the buffer the reader reads into now
	prev *slab // the one before: the reader copies its unread bytes out after get
	pool chan *slab
	// fill is the batch being filled: it holds every slab lent while it
	// is, and the one current when it started, so it holds every slab its
	// records point into without a test per record (a record lies in the
	// slab current when Next returned it).
	fill *ahead
}

func (s *slabs) get(n int) []byte {
	if s.prev != nil {
		s.prev.release() // the reader has moved on
	}
	s.prev = s.cur
	var sl *slab
	if n > slabLen {
		sl = &slab{b: make([]byte, n)} // a block larger than a slab: rare, not kept
	} else {
		select {
		case sl = <-s.pool:
		default:
			sl = &slab{b: make([]byte, slabLen), pool: s.pool}
		}
	}
	sl.refs.Store(1)
	s.cur = sl
	if s.fill != nil {
		s.fill.hold(sl)
	}
	return sl.b
}

// filling makes a the batch being filled.
func (s *slabs) filling(a *ahead) {
	s.fill = a
	if s.cur != nil {
		a.hold(s.cur)
	}
}

// done drops the reader's references to its last two slabs: each goes
// back to the pool once the batches pointing into it have.
func (s *slabs) done() {
	for _, sl := range []*slab{s.prev, s.cur} {
		if sl != nil {
			sl.release()
		}
	}
	s.prev, s.cur = nil, nil
}

// hold makes a take a reference to s.
func (a *ahead) hold(s *slab) {
	s.refs.Add(1)
	a.slabs = append(a.slabs, s)
}

// reuse readies a batch the pipeline has finished with.
func (a *ahead) reuse() {
	for i, s := range a.slabs {
		s.release()
		a.slabs[i] = nil
	}
	clear(a.others) // drop what they point to
	a.items, a.others, a.slabs, a.end = a.items[:0], a.others[:0], a.slabs[:0], nil
}

// readAhead reads r to its end (or its first error) into batches on out,
// decoding packets with dec (its own), then closes out. It stops early
// when ctx is done. st lends it batches and slabs the pipeline has
// finished with.
func readAhead(ctx context.Context, r *pcapng.Reader, dec *decode.Decoder, out *queue, st *stock) {
	defer close(out.c)
	// Records point into the reader's buffers instead of being copied: the
	// copy was a tenth of this goroutine's time.
	bufs := &slabs{pool: st.slabs}
	defer bufs.done()
	r.SetBuffers(bufs.get)
	for {
		var a *ahead
		select {
		case a = <-st.batches:
			a.reuse()
		default:
			a = &ahead{items: make([]item, 0, batchLen)} // the loop below fills up to its capacity
		}
		bufs.filling(a)
		held := 0 // record bytes in the batch
		items := a.items[:cap(a.items)]
		n := 0
		for n < len(items) && held < batchBytes {
			rec, err := r.Next()
			if err != nil {
				a.end = err
				break
			}
			// Filled in place: building the item and copying it in was a
			// quarter of this goroutine's time.
			it := &items[n]
			n++
			held += len(rec.Data)
			if rec.Type != pcapng.RecordPacket {
				a.others = append(a.others, *rec) // custom and statistics blocks: few
				it.why, it.other = decode.SkipNone, int32(len(a.others))
				continue
			}
			it.data = rec.Data
			// Decode writes every field of the packet the pipeline reads
			// but the record's own: it is not cleared first.
			it.pkt.TS = rec.TS // fragment reassembly times out on capture time
			ok, why := dec.Decode(pipeline.LinkType(rec), rec.Data, rec.OrigLen, &it.pkt)
			it.why, it.other = why, 0
			if !ok {
				it.detail = dec.Detail()
			}
			it.pkt.Frame, it.pkt.Interface = rec.Frame, int(rec.InterfaceID)
		}
		a.items = items[:n]
		bufs.fill = nil // the pipeline may have it back before the next is filled
		a.offset, a.compressed = r.Offset(), r.Compressed()
		if a.end != nil {
			dec.Flush() // datagrams never completed in this file
			a.frag = dec.FragStats()
		}
		// An empty queue: the pipeline may be waiting for this batch. The
		// send makes it runnable on this core, where it would wait until
		// this reader filled its queue; yield to it instead.
		yield := len(out.c) == 0 && runtime.GOMAXPROCS(0) > 1
		if !out.put(ctx, a) {
			return
		}
		if a.end != nil {
			return
		}
		if yield {
			runtime.Gosched()
		}
	}
}
