//go:build !linux

package capture

// Capturing is Linux-only: elsewhere a ring needs no lock.
func (f *fileSet) lock() error { return nil }

func (f *fileSet) unlock() {}
