//go:build linux

package ebpfcap

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// removeMemlock lifts RLIMIT_MEMLOCK, which kernels before 5.11 charge BPF
// maps and programs to (later ones charge the memory cgroup, and a refusal
// there is no error). It stands in for cilium/ebpf/rlimit, whose package
// set-up lowers the limit and creates a probe map at the start of every
// tcpviz command, parse-pcap included.
func removeMemlock() error {
	inf := unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
	err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &inf)
	if err == nil {
		return nil
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil && kernelAtLeast(unix.ByteSliceToString(u.Release[:]), 5, 11) {
		return nil
	}
	return fmt.Errorf("raising RLIMIT_MEMLOCK (needed before Linux 5.11): %w", err)
}

// kernelAtLeast reads the major and minor numbers of a release such as
// "6.1.0-18-amd64" or "5.15.0".
func kernelAtLeast(release string, major, minor int) bool {
	f := strings.FieldsFunc(release, func(r rune) bool { return r < '0' || r > '9' })
	if len(f) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(f[0])
	mi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}
