// Package capturetest runs a capture in the background for a test and
// returns once it is attached, so the test's traffic is all captured.
//
// It is generic over the capture's result so that internal/capture's own
// tests can use it too (a helper importing internal/capture could not be
// imported by them).
package capturetest

import (
	"context"
	"sync"
	"testing"
	"time"
)

// ReadyTimeout is how long Start waits for a capture to attach. Loading and
// attaching the eBPF programs takes well under a second on an idle machine
// and several seconds on a loaded two-core one; only a capture that never
// attaches should reach it.
const ReadyTimeout = 60 * time.Second

// Capture is a capture running in the background.
type Capture[S any] struct {
	cancel context.CancelFunc
	done   chan struct{}
	sum    S
	err    error
}

// Start runs run in the background and returns once run has called ready
// (later calls are ignored). run gets a context that Stop cancels; it must
// return when that context is done. The test fails if run returns before it
// is ready or is not ready within ReadyTimeout. A capture the test did not
// stop is stopped, and waited for, when the test ends.
func Start[S any](tb testing.TB, run func(ctx context.Context, ready func()) (S, error)) *Capture[S] {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &Capture[S]{cancel: cancel, done: make(chan struct{})}
	tb.Cleanup(func() {
		cancel()
		<-c.done
	})
	ready := make(chan struct{})
	var once sync.Once
	go func() {
		defer close(c.done)
		c.sum, c.err = run(ctx, func() { once.Do(func() { close(ready) }) })
	}()
	select {
	case <-ready:
	case <-c.done:
		tb.Fatalf("capture ended before it was ready: %v", c.err)
	case <-time.After(ReadyTimeout):
		tb.Fatalf("capture not ready after %v", ReadyTimeout)
	}
	return c
}

// Stop ends the capture and returns what run returned.
func (c *Capture[S]) Stop() (S, error) {
	c.cancel()
	<-c.done
	return c.sum, c.err
}

// Done is closed once run has returned: a capture that stops by itself (a
// packet count, a duration, an error).
func (c *Capture[S]) Done() <-chan struct{} { return c.done }

// Result is what run returned; call it once Done is closed.
func (c *Capture[S]) Result() (S, error) {
	<-c.done
	return c.sum, c.err
}
