package cputime

import (
	"runtime"
	"testing"
	"time"
)

// TestCountsWork burns CPU on a locked thread until the thread's clock has
// moved by 20 ms, and checks the process clock moved by at least as much:
// a clock stuck at 0 or at one value fails. It waits on the clock, not on
// the wall, so a loaded machine that gives the thread little of each
// second only makes it slower.
func TestCountsWork(t *testing.T) {
	const want = 20 * time.Millisecond
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p0, t0 := Process(), Thread()
	deadline := time.Now().Add(30 * time.Second)
	x := 0
	for Thread()-t0 < want {
		if time.Now().After(deadline) {
			t.Fatalf("thread CPU moved %v in 30 s of spinning", Thread()-t0)
		}
		for i := 0; i < 100000; i++ {
			x += i * i
		}
	}
	_ = x
	// rusage counts in the scheduler's ticks on some kernels: allow one.
	if d := Process() - p0; d < want-5*time.Millisecond {
		t.Errorf("process CPU moved %v while the thread's moved at least %v", d, want)
	}
}
