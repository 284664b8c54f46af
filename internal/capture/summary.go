package capture

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Summary is what a capture did.
type Summary struct {
	Interface string
	Mode      string // how packets are hooked: ebpfcap.ModeTCX or ModeClsBPF
	Start     time.Time
	End       time.Time

	Packets       uint64            // packets written
	KernelRecords map[string]uint64 // kernel records written, by kind
	// Drops: PacketsLost and KernelLost are records the kernel could not
	// put into a full ring buffer; PacketErrors packets it could not copy.
	PacketsLost  uint64
	KernelLost   uint64
	PacketErrors uint64
	// PacketsSeen counts TCP packets that passed the filters in the kernel
	// (written + lost + after --count).
	PacketsSeen uint64
	// LateRecords are kernel records that reached the file after a packet
	// with a later timestamp (the reorder window was too short).
	LateRecords uint64

	Files   []string // files created, in order
	Deleted []string // files of Files deleted by --rotate-files
	// Unavailable kernel records and why (missing tracepoints, no BTF).
	Unavailable map[string]string
}

// Drops is every record lost in the kernel.
func (s Summary) Drops() uint64 { return s.PacketsLost + s.KernelLost + s.PacketErrors }

func (s Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d packets captured on %s (%s) in %v\n", s.Packets, s.Interface, s.Mode,
		s.End.Sub(s.Start).Round(time.Millisecond))
	var kinds []string
	var total uint64
	for k, n := range s.KernelRecords {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
		total += n
	}
	sort.Strings(kinds)
	fmt.Fprintf(&b, "%d kernel records", total)
	if len(kinds) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(kinds, ", "))
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "%d dropped (packet ring full %d, kernel-record ring full %d, copy errors %d)\n",
		s.Drops(), s.PacketsLost, s.KernelLost, s.PacketErrors)
	for _, k := range sortedKeys(s.Unavailable) {
		fmt.Fprintf(&b, "unavailable: %s: %s\n", k, s.Unavailable[k])
	}
	kept := len(s.Files) - len(s.Deleted)
	fmt.Fprintf(&b, "%d file(s) written, %d kept", len(s.Files), kept)
	if kept > 0 {
		fmt.Fprintf(&b, ", last %s", s.Files[len(s.Files)-1])
	}
	b.WriteString("\n")
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
