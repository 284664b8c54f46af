//go:build unix && !linux

package cputime

import (
	"time"

	"golang.org/x/sys/unix"
)

// PerThread says whether Thread counts the calling thread alone.
const PerThread = false

func process() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func thread() time.Duration { return process() }
