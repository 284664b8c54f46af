package cputime

import (
	"time"

	"golang.org/x/sys/unix"
)

// PerThread says whether Thread counts the calling thread alone.
const PerThread = true

func process() time.Duration { return rusage(unix.RUSAGE_SELF) }

func thread() time.Duration { return rusage(unix.RUSAGE_THREAD) }

func rusage(who int) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
