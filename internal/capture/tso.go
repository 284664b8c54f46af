//go:build linux

package capture

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ethtoolGTSO is ETHTOOL_GTSO (linux/ethtool.h): is TCP segmentation
// offload on?
const ethtoolGTSO = 0x1e

// deviceTSO reports whether the interface segments TCP itself (TSO). When it
// does not, the kernel segments GSO packets in software after the tc hook,
// and the capture splits them the same way. Must run in the interface's
// network namespace.
func deviceTSO(name string) (bool, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false, fmt.Errorf("ethtool socket: %w", err)
	}
	defer unix.Close(fd)
	val := struct{ cmd, data uint32 }{cmd: ethtoolGTSO}
	var ifr struct {
		name [unix.IFNAMSIZ]byte
		data uintptr
		_    [16]byte
	}
	copy(ifr.name[:], name)
	ifr.data = uintptr(unsafe.Pointer(&val))
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	runtime.KeepAlive(&val)
	if errno != 0 {
		return false, fmt.Errorf("ethtool TSO query on %s: %w", name, errno)
	}
	return val.data != 0, nil
}
