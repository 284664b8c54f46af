package events

import (
	"sync"

	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// AsyncWriter writes events as JSON Lines on a goroutine of its own, so the
// encoding and the writes overlap with the pipeline that produces them
// instead of adding to it. Events are copied into batches (with the kernel
// record an event points to, which its producer reuses) and written in the
// order they came, by a Writer: the bytes are exactly those the Writer
// writes when called directly. It is not safe for concurrent use; Flush or
// Close must be called to end its goroutine.
type AsyncWriter struct {
	batch *eventBatch
	full  chan *eventBatch
	free  chan *eventBatch
	done  chan struct{}
	ended bool // full is closed

	mu  sync.Mutex
	err error // the goroutine's first write error
	w   *Writer
}

// asyncBatchLen is the events per hand-off: enough that the channel costs
// nothing per event, few enough that a batch stays in cache.
const asyncBatchLen = 256

type eventBatch struct {
	events []Event
	kern   []kblock.Record // copies of the events' kernel records; never grows past its capacity
}

func newEventBatch() *eventBatch {
	return &eventBatch{events: make([]Event, 0, asyncBatchLen), kern: make([]kblock.Record, 0, asyncBatchLen)}
}

// NewAsyncWriter returns an AsyncWriter that writes through w, which
// belongs to it from now on.
func NewAsyncWriter(w *Writer) *AsyncWriter {
	a := &AsyncWriter{batch: newEventBatch(), full: make(chan *eventBatch, 4), free: make(chan *eventBatch, 6),
		done: make(chan struct{}), w: w}
	go a.run()
	return a
}

func (a *AsyncWriter) run() {
	defer close(a.done)
	for b := range a.full {
		for i := range b.events {
			a.w.Event(&b.events[i])
		}
		if err := a.w.Err(); err != nil {
			a.mu.Lock()
			a.err = err
			a.mu.Unlock()
		}
		clear(b.events) // drop the strings and pointers they hold
		b.events, b.kern = b.events[:0], b.kern[:0]
		select {
		case a.free <- b:
		default:
		}
	}
}

// Event queues one event line; e is copied.
func (a *AsyncWriter) Event(e *Event) {
	b := a.batch
	b.events = append(b.events, *e)
	if e.Kernel != nil {
		b.kern = append(b.kern, *e.Kernel)
		b.events[len(b.events)-1].Kernel = &b.kern[len(b.kern)-1]
	}
	if len(b.events) == cap(b.events) {
		a.full <- b
		select {
		case a.batch = <-a.free:
		default:
			a.batch = newEventBatch()
		}
	}
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
	if len(a.batch.events) > 0 {
		a.full <- a.batch
	}
	close(a.full)
	<-a.done
}

// Flush writes everything queued and the buffer out, and ends the
// goroutine: no event may follow.
func (a *AsyncWriter) Flush() error {
	a.Close()
	return a.w.Flush()
}
