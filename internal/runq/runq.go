// Package runq hands batches from one goroutine to another in runs. A
// goroutine that waits on a channel is woken for every value sent: between
// stages of unequal speed the faster one then parks and is woken once per
// batch, and on a machine with few cores the parking, the wake-up and the
// scheduler's search for work in between cost as much as a stage's work.
// A Queue wakes a waiting side only when it has a run of work: a producer
// blocked on a full queue once the consumer has taken it down to a low
// mark, a consumer that found it empty once the producer has put a high
// mark's worth in (or closed it). Values still come out in the order they
// went in.
package runq

import "sync/atomic"

// Queue is a bounded FIFO between one producer goroutine and one consumer
// goroutine.
type Queue[T any] struct {
	ch        chan T
	low, high int
	// A side that waits sets its flag, then waits on its wake channel; the
	// other side clears the flag (only one of them can) and sends.
	putWait, getWait atomic.Bool
	putWake, getWake chan struct{}
	closed           atomic.Bool
}

// New returns a queue of n values. A producer that finds it full waits
// until no more than low are left; a consumer that finds it empty waits
// until high are in or the queue is closed (high = 1: wait for the first).
// It needs 0 <= low < n and 1 <= high <= n.
func New[T any](n, low, high int) *Queue[T] {
	if low < 0 || low >= n || high < 1 || high > n {
		panic("runq: need 0 <= low < n and 1 <= high <= n")
	}
	return &Queue[T]{ch: make(chan T, n), low: low, high: high,
		putWake: make(chan struct{}, 1), getWake: make(chan struct{}, 1)}
}

// Put queues v. It returns false, without queuing v, when done is closed
// while the queue is full.
func (q *Queue[T]) Put(v T, done <-chan struct{}) bool {
	select {
	case q.ch <- v:
	default:
		q.putWait.Store(true)
		// The consumer may have taken the queue down before it could see
		// the flag: look again.
		if len(q.ch) > q.low || !q.putWait.CompareAndSwap(true, false) {
			select {
			case <-q.putWake:
			case <-done:
				if !q.putWait.CompareAndSwap(true, false) {
					<-q.putWake // sent, or about to be: take it
				}
				return false
			}
		}
		select {
		case q.ch <- v: // room for len-low values now
		case <-done:
			return false
		}
	}
	if len(q.ch) >= q.high && q.getWait.Load() && q.getWait.CompareAndSwap(true, false) {
		q.getWake <- struct{}{}
	}
	return true
}

// Close tells the consumer no more values follow. Only the producer calls
// it, once.
func (q *Queue[T]) Close() {
	q.closed.Store(true)
	close(q.ch)
	if q.getWait.Load() && q.getWait.CompareAndSwap(true, false) {
		q.getWake <- struct{}{}
	}
}

// Get returns the next value, or false once the queue is closed and empty.
func (q *Queue[T]) Get() (T, bool) {
	var v T
	var ok bool
	select {
	case v, ok = <-q.ch:
	default:
		q.getWait.Store(true)
		// The producer may have filled or closed the queue before it could
		// see the flag: look again.
		if (len(q.ch) < q.high && !q.closed.Load()) || !q.getWait.CompareAndSwap(true, false) {
			<-q.getWake
		}
		v, ok = <-q.ch
	}
	if len(q.ch) <= q.low && q.putWait.Load() && q.putWait.CompareAndSwap(true, false) {
		q.putWake <- struct{}{}
	}
	return v, ok
}
