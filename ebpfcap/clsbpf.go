//go:build linux

package ebpfcap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/cilium/ebpf"
)

// The cls_bpf fallback speaks rtnetlink directly (no tc binary, no bpffs):
// a clsact qdisc, then a direct-action bpf filter holding the program's fd.

// Constants from linux/rtnetlink.h, linux/pkt_sched.h and linux/pkt_cls.h.
const (
	rtmNewQdisc  = 36
	rtmDelQdisc  = 37
	rtmNewFilter = 44
	rtmDelFilter = 45

	tcaKind    = 1
	tcaOptions = 2

	tcaBPFFD            = 6
	tcaBPFName          = 7
	tcaBPFFlags         = 8
	tcaBPFFlagActDirect = 1

	tcHClsact        = 0xFFFFFFF1
	tcHClsactHandle  = 0xFFFF0000
	tcHMinIngress    = 0xFFF2
	tcHMinEgress     = 0xFFF3
	ethPAllBigEndian = 0x0300 // htons(ETH_P_ALL)

	// clsPrio is the filter priority tcpviz uses, so it removes only its
	// own filter.
	clsPrio = 49207
)

// attachClsBPF attaches prog as a direct-action cls_bpf filter on the clsact
// qdisc of ifindex (creating the qdisc if needed), for kernels without tcx.
// The returned function removes the filter, and the qdisc if it created it.
func attachClsBPF(ifindex int, parent string, prog *ebpf.Program) (func() error, error) {
	minor := uint32(tcHMinIngress)
	if parent == "egress" {
		minor = tcHMinEgress
	}
	addedQdisc := false
	err := rtnetlink(rtmNewQdisc, syscall.NLM_F_CREATE|syscall.NLM_F_EXCL,
		tcmsg(ifindex, tcHClsactHandle, tcHClsact, 0), attr(tcaKind, cstring("clsact")))
	switch {
	case err == nil:
		addedQdisc = true
	case errors.Is(err, syscall.EEXIST):
	default:
		return nil, fmt.Errorf("add clsact qdisc to interface %d: %w", ifindex, err)
	}

	filterParent := uint32(tcHClsactHandle) | minor
	info := uint32(clsPrio)<<16 | ethPAllBigEndian
	opts := append(attr(tcaBPFFD, u32(uint32(prog.FD()))), attr(tcaBPFName, cstring("tcpviz"))...)
	opts = append(opts, attr(tcaBPFFlags, u32(tcaBPFFlagActDirect))...)
	err = rtnetlink(rtmNewFilter, syscall.NLM_F_CREATE|syscall.NLM_F_EXCL,
		tcmsg(ifindex, 0, filterParent, info), append(attr(tcaKind, cstring("bpf")), attr(tcaOptions, opts)...))
	if err != nil {
		if addedQdisc {
			_ = rtnetlink(rtmDelQdisc, 0, tcmsg(ifindex, tcHClsactHandle, tcHClsact, 0), nil)
		}
		return nil, fmt.Errorf("add bpf filter to %s of interface %d: %w", parent, ifindex, err)
	}
	return func() error {
		if addedQdisc {
			// Removing the qdisc removes every filter on it, ours included.
			err := rtnetlink(rtmDelQdisc, 0, tcmsg(ifindex, tcHClsactHandle, tcHClsact, 0), nil)
			if err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
				return fmt.Errorf("delete clsact qdisc of interface %d: %w", ifindex, err)
			}
			return nil
		}
		// The qdisc may be gone already (another hook's cleanup removed it).
		_ = rtnetlink(rtmDelFilter, 0, tcmsg(ifindex, 0, filterParent, info), nil)
		return nil
	}, nil
}

// tcmsg is struct tcmsg.
func tcmsg(ifindex int, handle, parent, info uint32) []byte {
	b := make([]byte, 20)
	binary.NativeEndian.PutUint32(b[4:], uint32(int32(ifindex)))
	binary.NativeEndian.PutUint32(b[8:], handle)
	binary.NativeEndian.PutUint32(b[12:], parent)
	binary.NativeEndian.PutUint32(b[16:], info)
	return b
}

// attr is one netlink attribute, padded to 4 bytes.
func attr(typ uint16, data []byte) []byte {
	b := make([]byte, 4, 4+len(data)+3)
	binary.NativeEndian.PutUint16(b[0:], uint16(4+len(data)))
	binary.NativeEndian.PutUint16(b[2:], typ)
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

func cstring(s string) []byte { return append([]byte(s), 0) }

// rtnetlink sends one request and waits for its acknowledgement.
func rtnetlink(typ uint16, flags uint16, hdr, attrs []byte) error {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, syscall.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink socket: %w", err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink bind: %w", err)
	}
	msg := make([]byte, 16, 16+len(hdr)+len(attrs))
	msg = append(append(msg, hdr...), attrs...)
	binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:], typ)
	binary.NativeEndian.PutUint16(msg[6:], flags|syscall.NLM_F_REQUEST|syscall.NLM_F_ACK)
	binary.NativeEndian.PutUint32(msg[8:], 1) // sequence number
	if err := syscall.Sendto(fd, msg, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink send: %w", err)
	}
	buf := make([]byte, os.Getpagesize())
	for {
		n, _, err := syscall.Recvfrom(fd, buf, 0)
		if err != nil {
			return fmt.Errorf("netlink receive: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return fmt.Errorf("netlink parse: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Type != syscall.NLMSG_ERROR || m.Header.Seq != 1 {
				continue
			}
			if len(m.Data) < 4 {
				return errors.New("netlink: short error message")
			}
			if code := int32(binary.NativeEndian.Uint32(m.Data)); code != 0 {
				return syscall.Errno(-code)
			}
			return nil
		}
	}
}
