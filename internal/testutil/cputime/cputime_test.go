package cputime

import (
	"runtime"
	"testing"
	"time"
)

// TestCountsWork burns CPU on a locked thread and checks both clocks moved
// by at least part of it: a clock stuck at 0 or at one value fails.
func TestCountsWork(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p0, t0 := Process(), Thread()
	start := time.Now()
	x := 0
	for time.Since(start) < 50*time.Millisecond {
		for i := 0; i < 1000; i++ {
			x += i * i
		}
	}
	_ = x
	if d := Process() - p0; d < 10*time.Millisecond {
		t.Errorf("process CPU moved %v over 50 ms of spinning", d)
	}
	if d := Thread() - t0; d < 10*time.Millisecond {
		t.Errorf("thread CPU moved %v over 50 ms of spinning", d)
	}
}
