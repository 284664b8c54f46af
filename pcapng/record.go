package pcapng

import (
	"math"
	"math/bits"
)

// MaxBlockLen caps the size of one block (or classic pcap record) so that a
// corrupt length field cannot drive a large allocation.
const MaxBlockLen = 16 << 20

// maxInterfaces caps the interfaces of one section for the same reason.
const maxInterfaces = 1 << 16

// RecordType says what a Record holds.
type RecordType uint8

const (
	RecordPacket RecordType = iota + 1 // EPB, SPB, PB or a classic pcap record
	RecordCustom                       // Custom Block 0x00000BAD or 0x40000BAD
	RecordStats                        // Interface Statistics Block
)

func (t RecordType) String() string {
	switch t {
	case RecordPacket:
		return "packet"
	case RecordCustom:
		return "custom"
	case RecordStats:
		return "stats"
	}
	return "unknown"
}

// Format is the kind of capture file a Reader found.
type Format uint8

const (
	FormatUnknown Format = iota // not detected yet
	FormatPcapNG
	FormatPcap
)

func (f Format) String() string {
	switch f {
	case FormatPcapNG:
		return "pcapng"
	case FormatPcap:
		return "pcap"
	}
	return "unknown"
}

// Block types.
const (
	blockIDB        = 0x00000001
	blockPB         = 0x00000002 // obsolete Packet Block
	blockSPB        = 0x00000003
	blockNRB        = 0x00000004
	blockISB        = 0x00000005
	blockEPB        = 0x00000006
	blockSJE        = 0x00000009 // systemd Journal Export
	blockCustomCopy = 0x00000BAD
	blockCustom     = 0x40000BAD
	blockSHB        = 0x0A0D0D0A
)

// Option codes.
const (
	optEnd     = 0
	optComment = 1

	shbHardware = 2
	shbOS       = 3
	shbUserAppl = 4

	ifName        = 2
	ifDescription = 3
	ifSpeed       = 8
	ifTSResol     = 9
	ifFilter      = 11
	ifOS          = 12
	ifFCSLen      = 13
	ifTSOffset    = 14
	ifHardware    = 15

	epbFlags     = 2
	epbHash      = 3
	epbDropCount = 4
	epbPacketID  = 5

	isbStartTime    = 2
	isbEndTime      = 3
	isbIfRecv       = 4
	isbIfDrop       = 5
	isbFilterAccept = 6
	isbOSDrop       = 7
	isbUsrDeliv     = 8
)

// Direction bits of epb_flags (bits 0-1).
const (
	FlagInbound  uint32 = 1
	FlagOutbound uint32 = 2
	// FlagDirectionMask selects the direction bits.
	FlagDirectionMask uint32 = 3
)

// Section describes a pcapng section from its Section Header Block.
type Section struct {
	Index       int    // 0-based
	Application string // shb_userappl
	OS          string // shb_os
	Hardware    string // shb_hardware
	Comment     string // the first opt_comment
}

// Interface describes one capture interface: an IDB in pcapng, the file
// header in classic pcap.
type Interface struct {
	ID          uint32 // index within its section, as packets refer to it
	Section     int    // 0-based section number
	LinkType    uint16
	SnapLen     uint32 // 0 means no limit
	Name        string // if_name
	Description string // if_description
	Hardware    string // if_hardware
	OS          string // if_os
	// TSResol is the raw if_tsresol byte: n means 10^-n seconds, 0x80|n means
	// 2^-n seconds. 6 (microseconds) when the IDB has no if_tsresol.
	TSResol  uint8
	TSOffset int64 // if_tsoffset, seconds added to every timestamp
	FCSLen   int   // bytes of FCS at the end of each packet, -1 when not known

	tsMul   uint64 // ticks * tsMul / tsDiv = ns, for power-of-10 resolutions
	tsDiv   uint64
	tsShift int // >= 0 for power-of-2 resolutions: ticks * 1e9 >> tsShift
	// maxTicks is the most ticks that ticks * tsMul converts without
	// overflow when tsDiv is 1 (microseconds, nanoseconds...); 0 otherwise.
	maxTicks uint64
}

// setResol prepares the tick-to-nanosecond conversion for an if_tsresol byte.
// It reports false for resolutions finer than 10^-19 s, which do not fit.
func (ifc *Interface) setResol(b uint8) bool {
	ifc.TSResol = b
	ifc.tsShift, ifc.maxTicks = -1, 0
	if b&0x80 != 0 {
		ifc.tsShift = int(b & 0x7f)
		return true
	}
	n := int(b)
	if n > 19 {
		return false
	}
	ifc.tsMul, ifc.tsDiv = 1, 1
	for ; n < 9; n++ {
		ifc.tsMul *= 10
	}
	for ; n > 9; n-- {
		ifc.tsDiv *= 10
	}
	if ifc.tsDiv == 1 {
		ifc.maxTicks = math.MaxInt64 / ifc.tsMul
	}
	return true
}

// TSOutOfRange is the timestamp of a record whose time does not fit in
// int64 nanoseconds since the epoch (after the year 2262): callers warn
// rather than show a wrapped-around date.
const TSOutOfRange = math.MaxInt64

// nanos converts a timestamp in interface ticks to ns since the epoch;
// TSOutOfRange when it does not fit.
func (ifc *Interface) nanos(ticks uint64) int64 {
	if ticks <= ifc.maxTicks && ifc.TSOffset == 0 {
		return int64(ticks * ifc.tsMul) // most timestamps: one product, in line
	}
	return ifc.nanosSlow(ticks)
}

// nanosSlow is nanos for any resolution and offset.
func (ifc *Interface) nanosSlow(ticks uint64) int64 {
	var ns uint64
	switch {
	case ifc.tsShift >= 0:
		hi, lo := bits.Mul64(ticks, 1e9)
		switch s := uint(ifc.tsShift); {
		case s == 0:
			if hi != 0 {
				return TSOutOfRange
			}
			ns = lo
		case s < 64:
			if hi>>s != 0 {
				return TSOutOfRange
			}
			ns = lo>>s | hi<<(64-s)
		default:
			ns = hi >> (s - 64)
		}
	case ifc.tsDiv == 1:
		hi, lo := bits.Mul64(ticks, ifc.tsMul)
		if hi != 0 {
			return TSOutOfRange
		}
		ns = lo
	default:
		ns = ticks / ifc.tsDiv
	}
	if ns > math.MaxInt64 {
		return TSOutOfRange
	}
	const maxOff = math.MaxInt64 / 1_000_000_000
	if ifc.TSOffset > maxOff || ifc.TSOffset < -maxOff {
		return TSOutOfRange
	}
	off := ifc.TSOffset * 1e9
	if off > 0 && int64(ns) > math.MaxInt64-off {
		return TSOutOfRange
	}
	return int64(ns) + off
}

// StatsKnown flags the counters an Interface Statistics Block carried.
type StatsKnown uint8

const (
	StatsStartTime StatsKnown = 1 << iota
	StatsEndTime
	StatsReceived
	StatsDropped
	StatsFilterAccepted
	StatsOSDropped
	StatsDelivered
)

// InterfaceStats holds the counters of an Interface Statistics Block.
type InterfaceStats struct {
	StartTime      int64  // isb_starttime, ns since the epoch
	EndTime        int64  // isb_endtime, ns since the epoch
	Received       uint64 // isb_ifrecv: packets seen by the interface
	Dropped        uint64 // isb_ifdrop: dropped by the interface (no buffer)
	FilterAccepted uint64 // isb_filteraccept
	OSDropped      uint64 // isb_osdrop: dropped by the capture machinery
	Delivered      uint64 // isb_usrdeliv: delivered to the capturing program
	// Known says which of the above the block carried. A writer given Known 0
	// writes Received and Dropped always and the others when not zero.
	Known StatsKnown
}

// Record is one packet, custom block or statistics block. The Reader reuses
// it: a Record and the slices in it are valid until the next call to Next.
type Record struct {
	Type        RecordType
	BlockType   uint32 // pcapng block type; 0 for classic pcap
	Offset      int64  // byte offset where the block or record starts
	Frame       uint64 // frame number as Wireshark shows it (1-based)
	TS          int64  // ns since the Unix epoch; 0 when the block has none (SPB)
	InterfaceID uint32
	Interface   *Interface // nil for custom blocks

	// Packets.
	Data      []byte // captured bytes
	OrigLen   uint32 // length on the wire
	Flags     uint32 // epb_flags (pack_flags of a PB)
	DropCount uint64 // epb_dropcount, or the drops count of a PB
	PacketID  uint64 // epb_packetid
	Comment   []byte // the first opt_comment of the block, if any

	// Custom blocks.
	PEN        uint32 // Private Enterprise Number
	CustomData []byte // everything after the PEN, padding included
	Copyable   bool   // 0x00000BAD (true) or 0x40000BAD (false)

	// Interface statistics.
	Stats InterfaceStats
}

// Counts tallies what a Reader has seen so far.
type Counts struct {
	Sections       uint64
	Interfaces     uint64
	Packets        uint64
	Custom         uint64
	Stats          uint64
	NameResolution uint64
	Journal        uint64 // systemd Journal Export blocks: frames, but not returned
	UnknownBlocks  uint64 // skipped blocks of unknown type
	UnknownOptions uint64 // skipped options of unknown code
}
