//go:build !linux

package metrics

// processFamilies: the process_* metrics come from /proc, Linux only.
func processFamilies() []Family { return nil }
