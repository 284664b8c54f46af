//go:build linux

package capture

import (
	"time"

	"golang.org/x/sys/unix"
)

// bootClock converts bpf_ktime_get_boot_ns (CLOCK_BOOTTIME) into wall-clock
// ns since the epoch. The offset is measured by bracketing one BOOTTIME read
// between two REALTIME reads and keeping the tightest of a few tries; it is
// re-measured periodically so an NTP step shows up within one period.
type bootClock struct {
	offset int64 // realtime - boottime, ns
	span   int64 // width of the bracket the offset came from, ns

	// CLOCK_BOOTTIME is a real system call; the loop reads the time often,
	// so it extrapolates from Go's monotonic clock (vDSO) instead. The two
	// differ only by time spent suspended, and measure re-anchors them.
	monoBase time.Time
	bootBase int64
}

func nowNS(clock int32) int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(clock, &ts) // cannot fail for these clocks
	return ts.Nano()
}

func (c *bootClock) measure() {
	best := int64(-1)
	for i := 0; i < 5; i++ {
		r1 := nowNS(unix.CLOCK_REALTIME)
		b := nowNS(unix.CLOCK_BOOTTIME)
		r2 := nowNS(unix.CLOCK_REALTIME)
		if span := r2 - r1; best < 0 || span < best {
			best = span
			c.offset = r1 + span/2 - b
		}
	}
	c.span = best
	c.monoBase = time.Now()
	c.bootBase = nowNS(unix.CLOCK_BOOTTIME)
}

// wall converts a boot-clock timestamp.
func (c *bootClock) wall(boot uint64) int64 { return int64(boot) + c.offset }

// now is the current CLOCK_BOOTTIME, extrapolated since the last measure.
func (c *bootClock) now() uint64 { return uint64(c.bootBase + int64(time.Since(c.monoBase))) }

// bootNow reads CLOCK_BOOTTIME.
func bootNow() uint64 { return uint64(nowNS(unix.CLOCK_BOOTTIME)) }
