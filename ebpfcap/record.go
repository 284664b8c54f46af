package ebpfcap

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// MaxSnaplen is the largest snaplen the kernel programs copy (MAX_SNAPLEN in
// bpf/capture.c).
const MaxSnaplen = 1024

// Directions in Packet.Dir, as the kernel programs write them; the same bits
// as the pcapng epb_flags direction field.
const (
	DirInbound  = 1
	DirOutbound = 2
)

// PacketHeaderLen and KernelRecordLen are the sizes of struct pkt_hdr and
// struct krec in bpf/capture.c.
const (
	PacketHeaderLen = 40
	KernelRecordLen = 256
)

// Packet is one record of the packet ring buffer.
type Packet struct {
	BootNS  uint64 // bpf_ktime_get_boot_ns when the hook ran
	Cookie  uint64 // socket cookie, 0 when the skb had no socket
	Ifindex uint32
	Len     uint32 // original length on the wire
	Dir     uint8  // DirInbound or DirOutbound
	// GSOSegs and GSOSize describe a GSO packet (segmentation not done
	// yet at the tc hook): GSOSegs segments of GSOSize payload bytes.
	GSOSegs uint16
	GSOSize uint32
	Data    []byte // the first snaplen bytes; aliases the ring record
}

// ParsePacket decodes a packet ring record. p.Data aliases raw.
func ParsePacket(raw []byte, p *Packet) error {
	if len(raw) < PacketHeaderLen {
		return fmt.Errorf("packet record of %d bytes, shorter than its %d-byte header", len(raw), PacketHeaderLen)
	}
	le := binary.LittleEndian
	p.BootNS = le.Uint64(raw[0:])
	p.Cookie = le.Uint64(raw[8:])
	p.Ifindex = le.Uint32(raw[16:])
	p.Len = le.Uint32(raw[20:])
	caplen := le.Uint32(raw[24:])
	p.GSOSize = le.Uint32(raw[28:])
	p.GSOSegs = le.Uint16(raw[32:])
	p.Dir = raw[34]
	if uint64(caplen) > uint64(len(raw)-PacketHeaderLen) {
		return fmt.Errorf("packet record: caplen %d but %d bytes follow the header", caplen, len(raw)-PacketHeaderLen)
	}
	p.Data = raw[PacketHeaderLen : PacketHeaderLen+int(caplen)]
	return nil
}

// ParseKernel decodes a kernel ring record into r and returns its
// bpf_ktime_get_boot_ns timestamp; r.TS is left for the caller to set on its
// wall clock.
func ParseKernel(raw []byte, r *kblock.Record) (bootNS uint64, err error) {
	if len(raw) < KernelRecordLen {
		return 0, fmt.Errorf("kernel record of %d bytes, want %d", len(raw), KernelRecordLen)
	}
	le := binary.LittleEndian
	u32 := func(off int) uint32 { return le.Uint32(raw[off:]) }
	u64 := func(off int) uint64 { return le.Uint64(raw[off:]) }
	*r = kblock.Record{
		Kind:         kblock.Kind(raw[16]),
		Cookie:       u64(8),
		OldState:     raw[18],
		NewState:     raw[19],
		CAState:      raw[20],
		TCPFlags:     raw[21],
		ResetDir:     raw[22],
		Sport:        le.Uint16(raw[24:]),
		Dport:        le.Uint16(raw[26:]),
		PID:          u32(28),
		Saddr:        netip.AddrFrom16([16]byte(raw[32:48])).Unmap(),
		Daddr:        netip.AddrFrom16([16]byte(raw[48:64])).Unmap(),
		SndCwnd:      u32(64),
		Ssthresh:     u32(68),
		SRTTus:       u32(72),
		RTTVarus:     u32(76),
		SndWnd:       u32(80),
		RcvWnd:       u32(84),
		PacketsOut:   u32(88),
		RetransOut:   u32(92),
		LostOut:      u32(96),
		SackedOut:    u32(100),
		Delivered:    u32(104),
		TotalRetrans: u32(108),
		SndUna:       u32(112),
		SndNxt:       u32(116),
		RcvNxt:       u32(120),
		MSS:          u32(124),
		Seq:          u32(128),
		EndSeq:       u32(132),
		Segs:         u32(136),
		PacingRate:   u64(144),
		BytesAcked:   u64(152),
		BytesRecv:    u64(160),
		SpanNS:       u64(168),
	}
	comm := raw[176:192]
	if i := bytes.IndexByte(comm, 0); i >= 0 {
		comm = comm[:i]
	}
	r.Comm = string(comm)
	// The send-limit groups; the kernel sets the bit of each group it could
	// read, and the C bits are kblock's Has bits.
	r.Has = le.Uint16(raw[240:]) & kblock.HasAll
	has := func(bit uint16) bool { return r.Has&bit != 0 }
	if has(kblock.HasChrono) {
		r.BusyUS, r.RwndLimitedUS, r.SndbufLimitedUS = u64(192), u64(200), u64(208)
	}
	if has(kblock.HasRate) {
		r.RateDelivered, r.RateIntervalUS = u32(216), u32(220)
	}
	if has(kblock.HasMinRTT) {
		r.MinRTTus = u32(224)
	}
	if has(kblock.HasUnsent) {
		r.Unsent = u32(228)
	}
	if has(kblock.HasWmem) {
		r.WmemQueued, r.Sndbuf = u32(232), u32(236)
	}
	if has(kblock.HasWScale) {
		r.SndWScale, r.RcvWScale = raw[242], raw[243]
	}
	r.CwndLimited = has(kblock.HasCwndLimited) && raw[244] != 0
	r.AppLimited = has(kblock.HasAppLimited) && raw[245] != 0
	if raw[250] != 0 {
		r.HasTimer, r.TimerPending, r.Retransmits = true, raw[248], raw[249]
	}
	switch r.Kind {
	case kblock.KindProbe, kblock.KindRetransmit, kblock.KindState, kblock.KindReset:
	default:
		return 0, fmt.Errorf("kernel record of unknown kind %d", raw[16])
	}
	return u64(0), nil
}
