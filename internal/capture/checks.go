//go:build linux

package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Capability numbers (linux/capability.h).
const (
	capNetAdmin = 12
	capSysAdmin = 21
	capPerfmon  = 38
	capBPF      = 39
)

// checkCaps fails with a clear message when the process cannot load and
// attach the programs. CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON
// on kernels before 5.8.
func checkCaps() error {
	eff, err := effectiveCaps()
	if err != nil {
		return err
	}
	return capsError(eff, os.Geteuid())
}

// capsError explains which capabilities of the effective set eff are
// missing, or returns nil.
func capsError(eff uint64, euid int) error {
	has := func(c uint) bool { return eff&(1<<c) != 0 }
	var missing []string
	if !has(capBPF) && !has(capSysAdmin) {
		missing = append(missing, "CAP_BPF")
	}
	if !has(capPerfmon) && !has(capSysAdmin) {
		missing = append(missing, "CAP_PERFMON")
	}
	if !has(capNetAdmin) {
		missing = append(missing, "CAP_NET_ADMIN")
	}
	if len(missing) == 0 {
		return nil
	}
	who := "this process"
	if euid != 0 {
		who = "not running as root, and this process"
	}
	return fmt.Errorf("capture needs root or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN: %s lacks %s (try sudo)",
		who, strings.Join(missing, ", "))
}

func effectiveCaps() (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("read capabilities: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return 0, fmt.Errorf("parse CapEff %q in /proc/self/status: %w", v, err)
			}
			return n, nil
		}
	}
	return 0, errors.New("no CapEff line in /proc/self/status")
}

// btfAvailable reports why kernel records cannot be read, or "" when the
// kernel has BTF.
func btfMissing() string {
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return "the kernel has no BTF (/sys/kernel/btf/vmlinux; CONFIG_DEBUG_INFO_BTF)"
	}
	return ""
}

// ARP hardware types (linux/if_arp.h) and pcap link types.
const (
	arphrdEther    = 1
	arphrdLoopback = 772
	arphrdNone     = 65534
	arphrdIPIP     = 768
	arphrdTunnel6  = 769
	arphrdIPGRE    = 778
	arphrdRawIP    = 519

	linkTypeEthernet = 1
	linkTypeRaw      = 101
)

// linkInfo describes the capture interface.
type linkInfo struct {
	index    int
	name     string
	arphrd   uint16
	linkType uint16
	l2len    uint32
	loopback bool
}

// lookupLink finds the interface in the calling thread's namespace and maps
// its hardware type to a pcap link type and header length.
func lookupLink(name string) (linkInfo, error) {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		var names []string
		if all, err := net.Interfaces(); err == nil {
			for _, i := range all {
				names = append(names, i.Name)
			}
		}
		return linkInfo{}, fmt.Errorf("capture: no such interface %q (have: %s)", name, strings.Join(names, ", "))
	}
	typ, err := arpType(ifc.Index)
	if err != nil {
		return linkInfo{}, err
	}
	li := linkInfo{index: ifc.Index, name: ifc.Name, arphrd: typ}
	switch typ {
	case arphrdEther:
		li.linkType, li.l2len = linkTypeEthernet, 14
	case arphrdLoopback:
		// Linux gives lo an Ethernet header of zeros; tcpdump writes EN10MB.
		li.linkType, li.l2len, li.loopback = linkTypeEthernet, 14, true
	case arphrdNone, arphrdIPIP, arphrdTunnel6, arphrdIPGRE, arphrdRawIP:
		li.linkType, li.l2len = linkTypeRaw, 0
	default:
		return linkInfo{}, fmt.Errorf("capture: interface %s has hardware type %d; only Ethernet, loopback and raw-IP devices are supported", name, typ)
	}
	return li, nil
}

// arpType reads the interface's ARPHRD_* type over rtnetlink (sysfs shows
// the namespace it was mounted in, not the caller's).
func arpType(index int) (uint16, error) {
	rib, err := syscall.NetlinkRIB(syscall.RTM_GETLINK, syscall.AF_UNSPEC)
	if err != nil {
		return 0, fmt.Errorf("capture: list links: %w", err)
	}
	msgs, err := syscall.ParseNetlinkMessage(rib)
	if err != nil {
		return 0, fmt.Errorf("capture: parse links: %w", err)
	}
	for _, m := range msgs {
		if m.Header.Type != syscall.RTM_NEWLINK || len(m.Data) < syscall.SizeofIfInfomsg {
			continue
		}
		// struct ifinfomsg: family u8, pad u8, type u16, index s32, ...
		if int(int32(binary.NativeEndian.Uint32(m.Data[4:]))) == index {
			return binary.NativeEndian.Uint16(m.Data[2:]), nil
		}
	}
	return 0, fmt.Errorf("capture: interface %d not in the link list", index)
}
