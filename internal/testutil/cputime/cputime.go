// Package cputime reads CPU time for benchmarks: on a shared machine the
// CPU a run used is a steadier figure than its wall time.
package cputime

import "time"

// Process is the user and system CPU time the process has used so far, or
// 0 where the system does not say.
func Process() time.Duration { return process() }

// Thread is the user and system CPU time the calling OS thread has used so
// far (call runtime.LockOSThread first). Only Linux counts per thread;
// elsewhere PerThread is false and Thread is the process's time.
func Thread() time.Duration { return thread() }
