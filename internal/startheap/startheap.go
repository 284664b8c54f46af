// Package startheap lets a command start with a larger heap than the Go
// runtime's 4 MB minimum.
//
// A parse of a million packets allocates 6-9 MB in all, most of it buffers
// that live for the whole run. With the runtime's 4 MB starting goal that is
// one garbage collection in every run, and a collection's mark reads every
// pointer slot of the program's globals (about 5 MB here, most of them the
// decoders' tables), faulting each page in on the first one: about 25 ms of
// CPU, a tenth of such a run. The Go compiler starts its heap larger for the
// same reason.
package startheap

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

const goalMetric = "/gc/heap/goal:bytes"

// Raise sets the garbage collector's percentage so that the first
// collection waits until the heap reaches about goal bytes, and hands back
// to the default percentage (100) after the first collection whose next
// goal is beyond goal: from then on a large run keeps the usual heap of
// about twice its live data, so its peak memory does not change. Raise does
// nothing when GOGC or GOMEMLIMIT is set (whoever set them chose) or when
// the runtime's goal is already at least goal. It returns whether it raised
// the goal.
func Raise(goal uint64) bool {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return false
	}
	now := currentGoal()
	if now == 0 || now >= goal {
		return false
	}
	// With a small live heap the goal is the runtime's minimum scaled by
	// the percentage, so the percentage scales the same way.
	debug.SetGCPercent(int(100 * goal / now))
	afterEachGC(func() bool {
		if currentGoal() <= goal {
			return true // the live heap is still small: keep the raised goal
		}
		debug.SetGCPercent(100)
		return false
	})
	return true
}

func currentGoal() uint64 {
	s := []metrics.Sample{{Name: goalMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// afterEachGC calls fn after each garbage collection (from the runtime's
// cleanup goroutine, some time after the collection ends) until fn returns
// false. An object nothing points to is collected by the next cycle, and
// its cleanup arms the next one.
func afterEachGC(fn func() bool) {
	// Larger than the tiny allocator's 16 bytes, which would batch it with
	// objects that may live on.
	type sentinel [32]byte
	var arm func()
	arm = func() {
		runtime.AddCleanup(new(sentinel), func(struct{}) {
			if fn() {
				arm()
			}
		}, struct{}{})
	}
	arm()
}
