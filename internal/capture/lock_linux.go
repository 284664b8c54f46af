//go:build linux

package capture

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// lock takes the ring's lock for the run, so that two rotating captures
// never write one ring (interleaved numbers, every packet stored twice).
// The lock file stays behind: removing it could let a third capture lock
// a new file while a second still holds the old one.
func (f *fileSet) lock() error {
	name := f.lockName()
	lf, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, fileMode)
	if err != nil {
		return fmt.Errorf("capture: lock %s: %w", name, err)
	}
	if err := unix.Flock(int(lf.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lf.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return fmt.Errorf("capture: another capture is writing %s (it holds %s); give another -w name", f.output, name)
		}
		return fmt.Errorf("capture: lock %s: %w", name, err)
	}
	f.lockFile = lf
	return nil
}

func (f *fileSet) unlock() {
	if f.lockFile != nil {
		f.lockFile.Close() // releases the flock
		f.lockFile = nil
	}
}
