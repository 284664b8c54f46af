package events

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// AsyncWriter writes events or flow records as JSON Lines on a goroutine of
// its own, so the encoding and the writes overlap with the pipeline that
// produces them instead of adding to it. Records are copied into batches
// (with the kernel record an event points to, which its producer reuses;
// a flow record's own pointers are fresh per connection) and written in the
// order they came, by a Writer: the bytes are exactly those the Writer
// writes when called directly. One writer takes one kind of record (the
// order between kinds is not kept). It is not safe for concurrent use;
// Flush or Close must be called to end its goroutine.
type AsyncWriter struct {
	batch *eventBatch
	full  chan *eventBatch
	free  chan *eventBatch
	done  chan struct{}
	ended bool // full is closed
	// The goroutine, finding the queue empty, waits until half of it is
	// queued and then writes it all, rather than waking for each batch:
	// on two cores of a virtual machine each wake-up (futex calls, the
	// scheduler spinning) cost the producer more than handing the batch.
	kick   chan struct{} // a token when half the queue is queued while it waited, or at the end
	wait   atomic.Bool   // the goroutine waits for a kick
	closed atomic.Bool   // full is closed: no kick to wait for

	mu  sync.Mutex
	err error // the goroutine's first write error
	w   *Writer
	// slotOut: Slot handed out the next event's place and no event has
	// been queued since; the producer may have written in it.
	slotOut bool
}

// asyncBatchLen is the events per hand-off: enough that the channel costs
// nothing per event, few enough that a batch stays in cache.
const asyncBatchLen = 256

// asyncQueue is the batches queued for the goroutine; oneCoreQueue with
// one core, where nothing writes beside the producer and the smaller
// queue keeps a short run's heap under the first garbage collection.
const (
	asyncQueue   = 8
	oneCoreQueue = 4
)

type eventBatch struct {
	events []Event
	kern   []kblock.Record // copies of the events' kernel records, made on the first; never grows past its capacity
	flows  []FlowRecord
}

func newEventBatch() *eventBatch {
	return &eventBatch{events: make([]Event, 0, asyncBatchLen)}
}

// NewAsyncWriter returns an AsyncWriter that writes through w, which
// belongs to it from now on.
func NewAsyncWriter(w *Writer) *AsyncWriter {
	n := asyncQueue
	if runtime.GOMAXPROCS(0) == 1 {
		n = oneCoreQueue
	}
	a := &AsyncWriter{batch: newEventBatch(), full: make(chan *eventBatch, n),
		free: make(chan *eventBatch, n+2),
		done: make(chan struct{}), kick: make(chan struct{}, 1), w: w}
	go a.run()
	return a
}

func (a *AsyncWriter) run() {
	defer close(a.done)
	for {
		if len(a.full) == 0 {
			a.sleep()
		}
		b, ok := <-a.full
		if !ok {
			return
		}
		// The queue was full: the producer may be waiting to hand over
		// a batch, runnable now on this core, where it would wait until
		// this goroutine had written the queue out; yield to it instead.
		if len(a.full) == cap(a.full)-1 && runtime.GOMAXPROCS(0) > 1 {
			runtime.Gosched()
		}
		for i := range b.events {
			a.w.Event(&b.events[i])
		}
		for i := range b.flows {
			a.w.Flow(&b.flows[i])
		}
		if err := a.w.Err(); err != nil {
			a.mu.Lock()
			a.err = err
			a.mu.Unlock()
		}
		// Drop the strings and pointers they hold; the events are cleared
		// with the place Slot may have handed out past them, so a batch
		// comes back with every place zero.
		clear(b.events[:min(len(b.events)+1, cap(b.events))])
		clear(b.flows)
		b.events, b.kern, b.flows = b.events[:0], b.kern[:0], b.flows[:0]
		select {
		case a.free <- b:
		default:
		}
	}
}

// sleep waits, the queue being empty, until half of it is queued or the
// producer wakes the goroutine (at the end, or before it waits on a full
// queue). A token left from before may end it early: the receive that
// follows then waits as usual.
func (a *AsyncWriter) sleep() {
	a.wait.Store(true) // then check: next sees either the flag or the batches
	if len(a.full) < cap(a.full)/2 && !a.closed.Load() {
		<-a.kick
	}
	a.wait.Store(false)
}

// wake gives the goroutine a kick.
func (a *AsyncWriter) wake() {
	a.wait.Store(false)
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// Slot returns the place of the next event in the queue, zero: an event
// built there and given to Event is queued without being copied (the
// detectors build each event there instead of in an event of their own,
// and a copy of 300 bytes per event was most of the hand-off). The place
// is valid until the next call of Event or Slot; building in it queues
// nothing.
func (a *AsyncWriter) Slot() *Event {
	b := a.batch
	if len(b.events) == cap(b.events) {
		b = a.next()
	}
	s := b.events[: len(b.events)+1 : len(b.events)+1][len(b.events):]
	if a.slotOut {
		s[0] = Event{} // built in before and not queued
	}
	a.slotOut = true
	return &s[0]
}

// Event queues one event line; e is copied, unless it is the place Slot
// handed out.
func (a *AsyncWriter) Event(e *Event) {
	b := a.batch
	if len(b.events) == cap(b.events) {
		// The batch is handed on when the next event comes, not when it
		// fills: the caller may read e after this call (the pipeline
		// hands it to other sinks), and e may be in the batch.
		b = a.next()
	}
	n := len(b.events)
	b.events = b.events[:n+1]
	s := &b.events[n]
	if s != e {
		*s = *e
	}
	a.slotOut = false
	if s.Kernel != nil {
		if b.kern == nil {
			// Most captures have no kernel records: no room for them
			// until one comes.
			b.kern = make([]kblock.Record, 0, asyncBatchLen)
		}
		b.kern = append(b.kern, *s.Kernel)
		s.Kernel = &b.kern[len(b.kern)-1]
	}
}

// Flow queues one flow record line; r is copied (a shallow copy: what it
// points to must not change afterwards).
func (a *AsyncWriter) Flow(r *FlowRecord) {
	b := a.batch
	b.flows = append(b.flows, *r)
	if len(b.flows) == asyncBatchLen {
		a.next()
	}
}

// next hands the current batch to the goroutine and takes an empty one.
func (a *AsyncWriter) next() *eventBatch {
	select {
	case a.full <- a.batch:
	default:
		a.wake() // full: whatever the goroutine saw, it must not wait for a kick now
		a.full <- a.batch
	}
	if a.wait.Load() && len(a.full) >= cap(a.full)/2 {
		a.wake()
	}
	select {
	case a.batch = <-a.free:
	default:
		a.batch = newEventBatch()
	}
	a.slotOut = false // the new batch's places are zero
	return a.batch
}

// Err is the first write error so far (writes are behind the calls).
func (a *AsyncWriter) Err() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// Close ends the goroutine after it has written what was queued; the
// buffer is not flushed. It may be called more than once, and after Flush.
func (a *AsyncWriter) Close() {
	if a.ended {
		return
	}
	a.ended = true
	if len(a.batch.events) > 0 || len(a.batch.flows) > 0 {
		a.full <- a.batch
	}
	a.closed.Store(true)
	close(a.full)
	a.wake()
	<-a.done
}

// Flush writes everything queued and the buffer out, and ends the
// goroutine: no event may follow.
func (a *AsyncWriter) Flush() error {
	a.Close()
	return a.w.Flush()
}
