package livetable

import (
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Owner is a socket's process.
type Owner struct {
	PID  uint32
	Comm string
}

// ProcOwners finds the owners of sockets by their (local, remote) ends the
// way ss -p does: the socket's inode from /proc/net/tcp{,6}, then the
// process holding a descriptor to it. It sees this network namespace only
// and is used for connections whose kernel records carry no owner (those
// that started before the capture). root is "/proc" outside tests.
func ProcOwners(root string, want map[[2]string]bool) map[[2]string]Owner {
	inodes := make(map[string][2]string)
	for _, name := range []string{"net/tcp", "net/tcp6"} {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 {
				continue
			}
			l, r := procAddr(f[1]), procAddr(f[2])
			if k := [2]string{l, r}; want[k] && f[9] != "0" {
				inodes["socket:["+f[9]+"]"] = k
			}
		}
	}
	out := make(map[[2]string]Owner)
	if len(inodes) == 0 {
		return out
	}
	procs, _ := os.ReadDir(root)
	for _, p := range procs {
		pid, err := strconv.ParseUint(p.Name(), 10, 32)
		if err != nil {
			continue
		}
		fdDir := filepath.Join(root, p.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			if err != nil {
				continue
			}
			k, ok := inodes[link]
			if !ok {
				continue
			}
			comm, _ := os.ReadFile(filepath.Join(root, p.Name(), "comm"))
			out[k] = Owner{PID: uint32(pid), Comm: strings.TrimSpace(string(comm))}
			delete(inodes, link)
		}
		if len(inodes) == 0 {
			break
		}
	}
	return out
}

// procAddr turns /proc/net/tcp's "0100007F:1F90" (address in host byte
// order words) into "127.0.0.1:8080".
func procAddr(s string) string {
	h, p, ok := strings.Cut(s, ":")
	if !ok {
		return ""
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return ""
	}
	raw, err := hex.DecodeString(h)
	if err != nil {
		return ""
	}
	var a netip.Addr
	switch len(raw) {
	case 4:
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], binary.LittleEndian.Uint32(raw))
		a = netip.AddrFrom4(b)
	case 16:
		var b [16]byte
		for i := 0; i < 16; i += 4 {
			binary.BigEndian.PutUint32(b[i:], binary.LittleEndian.Uint32(raw[i:]))
		}
		a = netip.AddrFrom16(b).Unmap()
	default:
		return ""
	}
	return netip.AddrPortFrom(a, uint16(port)).String()
}
