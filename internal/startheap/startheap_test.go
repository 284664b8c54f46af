package startheap

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func cycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// restore puts the default percentage back after a test, whatever Raise left.
func restore(t *testing.T) {
	t.Cleanup(func() { debug.SetGCPercent(100) })
}

var sink []byte

func TestRaise(t *testing.T) {
	restore(t)
	runtime.GC() // start from a small live heap and the runtime's minimum goal
	if !Raise(64 << 20) {
		t.Fatalf("Raise did not raise the goal (now %d bytes)", currentGoal())
	}
	before := cycles()
	// 24 MB of garbage, six times the runtime's minimum goal: without the
	// raise this takes several collections.
	for range 24 << 8 {
		sink = make([]byte, 4<<10)
	}
	sink = nil
	if n := cycles() - before; n != 0 {
		t.Errorf("%d collections while allocating 24 MB with a 64 MB starting goal", n)
	}
}

func TestRaiseHandsBack(t *testing.T) {
	restore(t)
	runtime.GC()
	if !Raise(8 << 20) {
		t.Fatalf("Raise did not raise the goal (now %d bytes)", currentGoal())
	}
	if p := debug.SetGCPercent(-1); p <= 100 {
		t.Fatalf("percentage after Raise(8 MB) = %d, want above 100", p)
	} else {
		debug.SetGCPercent(p)
	}
	// A live heap of 16 MB puts the next goal beyond 8 MB: the first
	// collection after that hands back to 100.
	live := make([][]byte, 0, 16<<8)
	for range 16 << 8 {
		live = append(live, make([]byte, 4<<10))
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		p := debug.SetGCPercent(-1)
		debug.SetGCPercent(p)
		if p == 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("percentage still %d with a live heap of %d MB, want 100", p, len(live)*4>>10)
		}
		time.Sleep(10 * time.Millisecond)
	}
	runtime.KeepAlive(live)
}

func TestRaiseLeavesUsersChoice(t *testing.T) {
	restore(t)
	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, map[string]string{"GOGC": "100", "GOMEMLIMIT": "1GiB"}[env])
			if Raise(64 << 20) {
				t.Errorf("Raise raised the goal with %s set", env)
			}
		})
	}
	if Raise(1) {
		t.Error("Raise(1) raised a goal that is already larger")
	}
}
