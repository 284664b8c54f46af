//go:build linux

package capture

import (
	"fmt"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// inNetns runs f on an OS thread inside the network namespace ns (a name
// under /run/netns or a path); "" runs f as is. Attaching tc programs and
// looking up the interface happen in the thread's namespace.
func inNetns(ns string, f func() error) error {
	if ns == "" {
		return f()
	}
	path := ns
	if !strings.Contains(ns, "/") {
		path = "/run/netns/" + ns
	}
	target, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("capture: network namespace %s: %w", ns, err)
	}
	defer target.Close()

	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("capture: current network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("capture: enter network namespace %s: %w", ns, err)
			return
		}
		ferr := f()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Stay locked: the runtime retires this thread with the goroutine.
			done <- fmt.Errorf("capture: leave network namespace %s: %w", ns, err)
			return
		}
		runtime.UnlockOSThread()
		done <- ferr
	}()
	return <-done
}
