package runq

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestOrderAndEnd runs producers and consumers of different speeds through
// queues of several shapes: every value comes out once, in order, and Get
// reports the end after the last one.
func TestOrderAndEnd(t *testing.T) {
	for _, tc := range []struct {
		name         string
		n, low, high int
		slowPut      bool // the producer yields between values
		slowGet      bool
	}{
		{"fast producer", 8, 2, 1, false, true},
		{"fast consumer", 8, 7, 4, true, false},
		{"both", 4, 0, 4, false, false},
		{"one slot", 1, 0, 1, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const count = 20_000
			q := New[int](tc.n, tc.low, tc.high)
			go func() {
				for i := range count {
					if !q.Put(i, nil) {
						panic("Put without done returned false")
					}
					if tc.slowPut && i%7 == 0 {
						runtime.Gosched()
					}
				}
				q.Close()
			}()
			for want := 0; ; want++ {
				v, ok := q.Get()
				if !ok {
					if want != count {
						t.Fatalf("end after %d values, want %d", want, count)
					}
					break
				}
				if v != want {
					t.Fatalf("value %d, want %d", v, want)
				}
				if tc.slowGet && want%5 == 0 {
					runtime.Gosched()
				}
			}
			if _, ok := q.Get(); ok {
				t.Fatal("a value after the end")
			}
		})
	}
}

// TestConsumerWaitsForRun checks the hysteresis itself: a consumer that
// found the queue empty is not woken before high values are in, and is
// woken by Close with fewer.
func TestConsumerWaitsForRun(t *testing.T) {
	q := New[int](4, 3, 3)
	got := make(chan int, 4)
	go func() {
		for {
			v, ok := q.Get()
			if !ok {
				close(got)
				return
			}
			got <- v
		}
	}()
	waitWaiting(t, &q.getWait)
	q.Put(1, nil)
	q.Put(2, nil)
	select {
	case v := <-got:
		t.Fatalf("woken by value %d with 2 of 3 in", v)
	case <-time.After(20 * time.Millisecond):
	}
	q.Put(3, nil)
	for want := 1; want <= 3; want++ {
		if v := <-got; v != want {
			t.Fatalf("value %d, want %d", v, want)
		}
	}
	waitWaiting(t, &q.getWait)
	q.Put(4, nil)
	q.Close()
	if v := <-got; v != 4 {
		t.Fatalf("value %d after Close, want 4", v)
	}
	if _, ok := <-got; ok {
		t.Fatal("no end after Close")
	}
}

// TestProducerWaitsForRoom checks that a producer blocked on a full queue
// resumes only once the consumer has taken it down to low, and that done
// releases it.
func TestProducerWaitsForRoom(t *testing.T) {
	q := New[int](4, 1, 1)
	for i := range 4 {
		q.Put(i, nil)
	}
	put := make(chan bool)
	go func() { put <- q.Put(4, nil) }()
	waitWaiting(t, &q.putWait)
	for want := range 2 {
		if v, _ := q.Get(); v != want {
			t.Fatalf("value %d, want %d", v, want)
		}
	}
	select {
	case <-put:
		t.Fatal("producer resumed with 2 left, low is 1")
	case <-time.After(20 * time.Millisecond):
	}
	q.Get()
	if !<-put {
		t.Fatal("Put returned false")
	}

	// Full again, then the consumer gives up: done releases the producer.
	q.Put(5, nil)
	q.Put(6, nil)
	done := make(chan struct{})
	go func() { put <- q.Put(7, done) }()
	waitWaiting(t, &q.putWait)
	close(done)
	if <-put {
		t.Fatal("Put returned true after done")
	}
}

// TestStress passes values through many short-lived queues with both sides
// racing on the wake flags (run with -race).
func TestStress(t *testing.T) {
	var wg sync.WaitGroup
	for r := range 50 {
		q := New[int](1+r%5, (r%5)/2, 1+(r%5)/2)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2_000 {
				q.Put(i, nil)
			}
			q.Close()
		}()
		n := 0
		for {
			v, ok := q.Get()
			if !ok {
				break
			}
			if v != n {
				t.Fatalf("queue %d: value %d, want %d", r, v, n)
			}
			n++
		}
		if n != 2_000 {
			t.Fatalf("queue %d: %d values", r, n)
		}
	}
	wg.Wait()
}

// waitWaiting waits until a side has announced it waits.
func waitWaiting(t *testing.T, flag interface{ Load() bool }) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !flag.Load(); {
		if time.Now().After(deadline) {
			t.Fatal("the other side never waited")
		}
		time.Sleep(time.Millisecond)
	}
}
