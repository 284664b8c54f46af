//go:build linux

package ebpfcap

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/cilium/ebpf"
)

// clsPref is the tc filter priority tcpviz uses, so it removes only its own
// filter.
const clsPref = "49207"

// attachClsBPF attaches prog as a direct-action cls_bpf filter on the clsact
// qdisc of ifindex (creating the qdisc if needed), for kernels without tcx.
// It uses the tc tool (iproute2) with the program pinned in bpffs. The
// returned function removes the filter, and the qdisc if it created it.
func attachClsBPF(ifindex int, parent string, prog *ebpf.Program) (func() error, error) {
	ifc, err := net.InterfaceByIndex(ifindex)
	if err != nil {
		return nil, fmt.Errorf("interface %d: %w", ifindex, err)
	}
	if _, err := exec.LookPath("tc"); err != nil {
		return nil, fmt.Errorf("cls_bpf fallback needs tc (iproute2): %w", err)
	}
	pin := filepath.Join("/sys/fs/bpf", fmt.Sprintf("tcpviz-%d-%s-%s", os.Getpid(), ifc.Name, parent))
	if err := prog.Pin(pin); err != nil {
		return nil, fmt.Errorf("pin program in bpffs (is /sys/fs/bpf mounted?): %w", err)
	}
	addedQdisc := false
	if out, err := exec.Command("tc", "qdisc", "add", "dev", ifc.Name, "clsact").CombinedOutput(); err == nil {
		addedQdisc = true
	} else if !strings.Contains(string(out), "File exists") {
		_ = prog.Unpin()
		return nil, fmt.Errorf("tc qdisc add dev %s clsact: %v: %s", ifc.Name, err, out)
	}
	out, err := exec.Command("tc", "filter", "add", "dev", ifc.Name, parent, "pref", clsPref,
		"bpf", "direct-action", "object-pinned", pin).CombinedOutput()
	// The filter holds its own reference; the pin is no longer needed.
	_ = prog.Unpin()
	if err != nil {
		if addedQdisc {
			_ = exec.Command("tc", "qdisc", "del", "dev", ifc.Name, "clsact").Run()
		}
		return nil, fmt.Errorf("tc filter add dev %s %s bpf: %v: %s", ifc.Name, parent, err, out)
	}
	return func() error {
		if addedQdisc {
			// Removing the qdisc removes every filter on it, ours included.
			if out, err := exec.Command("tc", "qdisc", "del", "dev", ifc.Name, "clsact").CombinedOutput(); err != nil {
				return fmt.Errorf("tc qdisc del dev %s clsact: %v: %s", ifc.Name, err, out)
			}
			return nil
		}
		// The qdisc may be gone already (another hook's cleanup removed it).
		_ = exec.Command("tc", "filter", "del", "dev", ifc.Name, parent, "pref", clsPref).Run()
		return nil
	}, nil
}

func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
