// Package kblock defines the payload tcpviz writes into pcapng Custom Blocks
// to carry the kernel's own TCP state next to the packets: congestion window,
// smoothed RTT, retransmissions and socket state changes. The byte layout is
// specified in docs/pcapng-kernel-blocks.md; this package is its reference
// implementation.
package kblock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"unsafe"
)

// DocumentationPEN is the Private Enterprise Number RFC 5612 sets aside for
// documentation. tcpviz writes it until it has a registered number.
const DocumentationPEN = 32473

// PEN is the Private Enterprise Number tcpviz writes in every custom block,
// in this one place. A registered number, once assigned, replaces
// DocumentationPEN here; readers go through IsPEN (and the Wireshark
// plugin's PENS table), which then accept both, so older files stay readable.
const PEN = DocumentationPEN

// IsPEN reports whether a custom block with this PEN holds a tcpviz record.
func IsPEN(pen uint32) bool { return pen == PEN || pen == DocumentationPEN }

// Version is the record format version written in byte 0.
const Version = 1

// HeaderLen is the size of the fixed header that precedes the fields.
const HeaderLen = 64

// MaxRecordLen caps a record so a corrupt length cannot drive an allocation.
const MaxRecordLen = 4096

// Kind says which kernel hook produced a record.
type Kind uint8

const (
	KindProbe      Kind = 1 // tcp_probe: congestion state of an established socket
	KindRetransmit Kind = 2 // tcp_retransmit_skb
	KindState      Kind = 3 // inet_sock_set_state
	KindReset      Kind = 4 // tcp_send_reset / tcp_receive_reset
)

func (k Kind) String() string {
	switch k {
	case KindProbe:
		return "probe"
	case KindRetransmit:
		return "retransmit"
	case KindState:
		return "state"
	case KindReset:
		return "reset"
	}
	return fmt.Sprintf("kind%d", uint8(k))
}

// MarshalText encodes the kind by name.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText decodes a kind name.
func (k *Kind) UnmarshalText(b []byte) error {
	for _, c := range []Kind{KindProbe, KindRetransmit, KindState, KindReset} {
		if string(b) == c.String() {
			*k = c
			return nil
		}
	}
	return fmt.Errorf("unknown kernel record kind %q", b)
}

// Field type codes of the TLV section. Codes are global across kinds so a
// reader can decode any field without knowing the kind.
const (
	FieldSndCwnd      uint16 = 1
	FieldSsthresh     uint16 = 2
	FieldSRTTus       uint16 = 3
	FieldRTTVarus     uint16 = 4
	FieldSndWnd       uint16 = 5
	FieldRcvWnd       uint16 = 6
	FieldPacketsOut   uint16 = 7
	FieldRetransOut   uint16 = 8
	FieldLostOut      uint16 = 9
	FieldSackedOut    uint16 = 10
	FieldDelivered    uint16 = 11
	FieldTotalRetrans uint16 = 12
	FieldSndUna       uint16 = 13
	FieldSndNxt       uint16 = 14
	FieldRcvNxt       uint16 = 15
	FieldMSS          uint16 = 16
	FieldCAState      uint16 = 17
	FieldPacingRate   uint16 = 18 // bytes per second
	FieldSeq          uint16 = 32
	FieldEndSeq       uint16 = 33
	FieldTCPFlags     uint16 = 34
	FieldSegs         uint16 = 35
	FieldOldState     uint16 = 48
	FieldNewState     uint16 = 49
	FieldPID          uint16 = 50
	FieldComm         uint16 = 51
	FieldBytesAcked   uint16 = 52
	FieldBytesRecv    uint16 = 53
	FieldSpanNS       uint16 = 54
	FieldResetDir     uint16 = 64 // 1 sent by this host, 2 received

	// What limited the sender: codes 80-99.
	FieldBusyUS          uint16 = 80 // chronograph totals, µs
	FieldRwndLimitedUS   uint16 = 81
	FieldSndbufLimitedUS uint16 = 82
	FieldCwndLimited     uint16 = 83
	FieldAppLimited      uint16 = 84
	FieldRateDelivered   uint16 = 85 // segments
	FieldRateIntervalUS  uint16 = 86
	FieldMinRTTus        uint16 = 87
	FieldUnsent          uint16 = 88 // bytes written by the application, not sent yet
	FieldWmemQueued      uint16 = 89
	FieldSndbuf          uint16 = 90
	FieldSndWScale       uint16 = 91
	FieldRcvWScale       uint16 = 92
)

// Bits of Record.Has: which groups of the send-limit fields a record
// carries. A group the kernel could not read is absent, which is not 0.
const (
	HasChrono      uint16 = 1 << iota // BusyUS, RwndLimitedUS, SndbufLimitedUS
	HasCwndLimited                    // CwndLimited
	HasAppLimited                     // AppLimited
	HasRate                           // RateDelivered, RateIntervalUS
	HasMinRTT                         // MinRTTus
	HasUnsent                         // Unsent
	HasWmem                           // WmemQueued, Sndbuf
	HasWScale                         // SndWScale, RcvWScale

	HasAll = HasChrono | HasCwndLimited | HasAppLimited | HasRate | HasMinRTT | HasUnsent | HasWmem | HasWScale
)

// Retransmission causes: codes 100-119.
const (
	FieldTimerPending uint16 = 100 // icsk_pending at a retransmission
	FieldRetransmits  uint16 = 101 // icsk_retransmits: RTO backoffs so far
)

// Timer values of FieldTimerPending (ICSK_TIME_* in the kernel).
const (
	TimerRetrans   = 1 // ICSK_TIME_RETRANS (cleared before the RTO handler runs)
	TimerProbe0    = 3
	TimerLossProbe = 5 // ICSK_TIME_LOSS_PROBE: the tail-loss probe is being sent
)

// Record is one kernel record. The 4-tuple is from the socket's point of
// view: Saddr/Sport are the local end. Zero values of optional fields are
// omitted from JSON and from the encoding.
type Record struct {
	Kind   Kind       `json:"record"`
	TS     int64      `json:"-"` // ns since the Unix epoch
	Cookie uint64     `json:"cookie,omitempty"`
	Saddr  netip.Addr `json:"saddr"`
	Daddr  netip.Addr `json:"daddr"`
	Sport  uint16     `json:"sport"`
	Dport  uint16     `json:"dport"`

	SndCwnd      uint32 `json:"snd_cwnd,omitempty"`
	Ssthresh     uint32 `json:"ssthresh,omitempty"`
	SRTTus       uint32 `json:"srtt_us,omitempty"`
	RTTVarus     uint32 `json:"rttvar_us,omitempty"`
	SndWnd       uint32 `json:"snd_wnd,omitempty"`
	RcvWnd       uint32 `json:"rcv_wnd,omitempty"`
	PacketsOut   uint32 `json:"packets_out,omitempty"`
	RetransOut   uint32 `json:"retrans_out,omitempty"`
	LostOut      uint32 `json:"lost_out,omitempty"`
	SackedOut    uint32 `json:"sacked_out,omitempty"`
	Delivered    uint32 `json:"delivered,omitempty"`
	TotalRetrans uint32 `json:"total_retrans,omitempty"`
	SndUna       uint32 `json:"snd_una,omitempty"`
	SndNxt       uint32 `json:"snd_nxt,omitempty"`
	RcvNxt       uint32 `json:"rcv_nxt,omitempty"`
	MSS          uint32 `json:"mss,omitempty"`
	CAState      uint8  `json:"ca_state,omitempty"`
	PacingRate   uint64 `json:"pacing_rate,omitempty"`

	Seq      uint32 `json:"seq,omitempty"`
	EndSeq   uint32 `json:"end_seq,omitempty"`
	TCPFlags uint8  `json:"tcp_flags,omitempty"`
	Segs     uint32 `json:"segs,omitempty"`

	OldState   uint8  `json:"old_state,omitempty"`
	NewState   uint8  `json:"new_state,omitempty"`
	PID        uint32 `json:"pid,omitempty"`
	Comm       string `json:"comm,omitempty"`
	BytesAcked uint64 `json:"bytes_acked,omitempty"`
	BytesRecv  uint64 `json:"bytes_received,omitempty"`
	SpanNS     uint64 `json:"span_ns,omitempty"`

	ResetDir uint8 `json:"reset_dir,omitempty"`

	// Send limits, in probe records and in the state records of a closing
	// socket (whose last one holds the lifetime totals). Each group is
	// valid only when its bit is set in Has; JSON shows present groups only.
	Has uint16 `json:"-"`
	// The chronographs as ss -ti shows them: busy (every state together),
	// of which receive-window limited and send-buffer limited, in µs since
	// the socket was created.
	BusyUS          uint64 `json:"-"`
	RwndLimitedUS   uint64 `json:"-"`
	SndbufLimitedUS uint64 `json:"-"`
	CwndLimited     bool   `json:"-"` // tp->is_cwnd_limited
	AppLimited      bool   `json:"-"` // tp->rate_app_limited
	RateDelivered   uint32 `json:"-"` // segments delivered in the last rate sample...
	RateIntervalUS  uint32 `json:"-"` // ...over this interval
	MinRTTus        uint32 `json:"-"`
	Unsent          uint32 `json:"-"` // write_seq - snd_nxt, bytes
	WmemQueued      uint32 `json:"-"` // sk_wmem_queued, bytes
	Sndbuf          uint32 `json:"-"` // sk_sndbuf, bytes
	SndWScale       uint8  `json:"-"` // shift of the peer's advertised windows
	RcvWScale       uint8  `json:"-"` // shift of this socket's advertised windows

	// TimerPending and Retransmits are read at a retransmission; HasTimer
	// says the record carries them (files from older writers do not).
	TimerPending uint8 `json:"-"`
	Retransmits  uint8 `json:"-"`
	HasTimer     bool  `json:"-"`
}

// Retransmission causes the kernel's state tells (RetransCause).
const (
	CauseRecovery  = "recovery"   // fast retransmit / SACK or RACK recovery (CA state Recovery)
	CauseLoss      = "loss"       // retransmission timeout (CA state Loss)
	CauseLossProbe = "loss_probe" // tail-loss probe (the loss-probe timer fired)
	CauseOther     = "other"      // any other state (e.g. Open, Disorder)
)

// RetransCause says why the kernel retransmitted, from a retransmit
// record: the congestion state (Recovery after fast retransmit, SACK or
// RACK loss detection; Loss after a timeout), else, in the Open or CWR
// state, the loss-probe timer (a probe is only sent there; in Recovery the
// pending timer may still be a loss probe scheduled before the ACK that
// started recovery). Empty when the record does not carry the timer
// (older writers).
func RetransCause(r *Record) string {
	if r.Kind != KindRetransmit || !r.HasTimer {
		return ""
	}
	switch {
	case r.CAState == 4:
		return CauseLoss
	case r.CAState == 3:
		return CauseRecovery
	case r.TimerPending == TimerLossProbe:
		return CauseLossProbe
	}
	return CauseOther
}

// TCP states as the kernel numbers them (include/net/tcp_states.h).
var stateNames = [...]string{"", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
	"TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV"}

// StateName names a kernel TCP state number.
func StateName(s uint8) string {
	if int(s) < len(stateNames) && s != 0 {
		return stateNames[s]
	}
	return fmt.Sprintf("STATE%d", s)
}

// Congestion-avoidance states (enum tcp_ca_state).
var caNames = [...]string{"open", "disorder", "cwr", "recovery", "loss"}

// CAStateName names a congestion-avoidance state.
func CAStateName(s uint8) string {
	if int(s) < len(caNames) {
		return caNames[s]
	}
	return fmt.Sprintf("ca%d", s)
}

// Append encodes r and appends it to dst.
func Append(dst []byte, r *Record) []byte {
	start := len(dst)
	var h [HeaderLen]byte
	h[0] = Version
	h[1] = byte(r.Kind)
	binary.LittleEndian.PutUint16(h[2:], HeaderLen)
	binary.LittleEndian.PutUint64(h[8:], uint64(r.TS))
	binary.LittleEndian.PutUint64(h[16:], r.Cookie)
	if r.Saddr.Is4() || (!r.Saddr.IsValid() && r.Daddr.Is4()) {
		h[24] = 4
	} else {
		h[24] = 6
	}
	binary.LittleEndian.PutUint16(h[26:], r.Sport)
	binary.LittleEndian.PutUint16(h[28:], r.Dport)
	putAddr(h[32:48], r.Saddr)
	putAddr(h[48:64], r.Daddr)
	dst = append(dst, h[:]...)

	u32 := func(t uint16, v uint32) {
		if v != 0 {
			dst = appendTLV(dst, t, binary.LittleEndian.AppendUint32(nil, v))
		}
	}
	u64 := func(t uint16, v uint64) {
		if v != 0 {
			dst = appendTLV(dst, t, binary.LittleEndian.AppendUint64(nil, v))
		}
	}
	u32(FieldSndCwnd, r.SndCwnd)
	u32(FieldSsthresh, r.Ssthresh)
	u32(FieldSRTTus, r.SRTTus)
	u32(FieldRTTVarus, r.RTTVarus)
	u32(FieldSndWnd, r.SndWnd)
	u32(FieldRcvWnd, r.RcvWnd)
	u32(FieldPacketsOut, r.PacketsOut)
	u32(FieldRetransOut, r.RetransOut)
	u32(FieldLostOut, r.LostOut)
	u32(FieldSackedOut, r.SackedOut)
	u32(FieldDelivered, r.Delivered)
	u32(FieldTotalRetrans, r.TotalRetrans)
	u32(FieldSndUna, r.SndUna)
	u32(FieldSndNxt, r.SndNxt)
	u32(FieldRcvNxt, r.RcvNxt)
	u32(FieldMSS, r.MSS)
	if r.Kind == KindProbe || r.CAState != 0 {
		// CA state 0 ("open") is meaningful for probes, so it is always written.
		dst = appendTLV(dst, FieldCAState, []byte{r.CAState})
	}
	u64(FieldPacingRate, r.PacingRate)
	if r.Kind == KindRetransmit || r.Seq != 0 || r.EndSeq != 0 {
		// Sequence 0 is meaningful for a retransmission, so it is always
		// written there; other kinds keep whatever a record carries.
		dst = appendTLV(dst, FieldSeq, binary.LittleEndian.AppendUint32(nil, r.Seq))
		dst = appendTLV(dst, FieldEndSeq, binary.LittleEndian.AppendUint32(nil, r.EndSeq))
	}
	if r.TCPFlags != 0 {
		dst = appendTLV(dst, FieldTCPFlags, []byte{r.TCPFlags})
	}
	u32(FieldSegs, r.Segs)
	if r.Kind == KindState || r.OldState != 0 || r.NewState != 0 {
		dst = appendTLV(dst, FieldOldState, []byte{r.OldState})
		dst = appendTLV(dst, FieldNewState, []byte{r.NewState})
	}
	u32(FieldPID, r.PID)
	if r.Comm != "" {
		c := r.Comm
		if len(c) > 255 {
			c = c[:255]
		}
		dst = appendTLV(dst, FieldComm, []byte(c))
	}
	u64(FieldBytesAcked, r.BytesAcked)
	u64(FieldBytesRecv, r.BytesRecv)
	u64(FieldSpanNS, r.SpanNS)
	if r.ResetDir != 0 {
		dst = appendTLV(dst, FieldResetDir, []byte{r.ResetDir})
	}
	dst = appendLimits(dst, r)
	if r.HasTimer {
		// 0 (no timer pending) is meaningful, so both are written together.
		dst = appendTLV(dst, FieldTimerPending, []byte{r.TimerPending})
		dst = appendTLV(dst, FieldRetransmits, []byte{r.Retransmits})
	}
	binary.LittleEndian.PutUint32(dst[start+4:], uint32(len(dst)-start))
	return dst
}

// appendLimits writes the present send-limit groups, zero values included.
func appendLimits(dst []byte, r *Record) []byte {
	le := binary.LittleEndian
	b1 := func(b bool) []byte {
		if b {
			return []byte{1}
		}
		return []byte{0}
	}
	if r.Has&HasChrono != 0 {
		dst = appendTLV(dst, FieldBusyUS, le.AppendUint64(nil, r.BusyUS))
		dst = appendTLV(dst, FieldRwndLimitedUS, le.AppendUint64(nil, r.RwndLimitedUS))
		dst = appendTLV(dst, FieldSndbufLimitedUS, le.AppendUint64(nil, r.SndbufLimitedUS))
	}
	if r.Has&HasCwndLimited != 0 {
		dst = appendTLV(dst, FieldCwndLimited, b1(r.CwndLimited))
	}
	if r.Has&HasAppLimited != 0 {
		dst = appendTLV(dst, FieldAppLimited, b1(r.AppLimited))
	}
	if r.Has&HasRate != 0 {
		dst = appendTLV(dst, FieldRateDelivered, le.AppendUint32(nil, r.RateDelivered))
		dst = appendTLV(dst, FieldRateIntervalUS, le.AppendUint32(nil, r.RateIntervalUS))
	}
	if r.Has&HasMinRTT != 0 {
		dst = appendTLV(dst, FieldMinRTTus, le.AppendUint32(nil, r.MinRTTus))
	}
	if r.Has&HasUnsent != 0 {
		dst = appendTLV(dst, FieldUnsent, le.AppendUint32(nil, r.Unsent))
	}
	if r.Has&HasWmem != 0 {
		dst = appendTLV(dst, FieldWmemQueued, le.AppendUint32(nil, r.WmemQueued))
		dst = appendTLV(dst, FieldSndbuf, le.AppendUint32(nil, r.Sndbuf))
	}
	if r.Has&HasWScale != 0 {
		dst = appendTLV(dst, FieldSndWScale, []byte{r.SndWScale})
		dst = appendTLV(dst, FieldRcvWScale, []byte{r.RcvWScale})
	}
	return dst
}

func appendTLV(dst []byte, t uint16, v []byte) []byte {
	dst = binary.LittleEndian.AppendUint16(dst, t)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(v)))
	dst = append(dst, v...)
	for len(v)%4 != 0 {
		dst = append(dst, 0)
		v = append(v, 0)
	}
	return dst
}

func putAddr(b []byte, a netip.Addr) {
	if a.Is4() {
		v := a.As4()
		copy(b, v[:])
	} else if a.IsValid() {
		v := a.As16()
		copy(b, v[:])
	}
}

// ErrVersion is returned for a record of a version this reader cannot decode.
var ErrVersion = errors.New("unsupported kernel record version")

// DecodeError locates a problem inside a record's bytes.
type DecodeError struct {
	Offset int // byte offset within the custom data
	Msg    string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("kernel record: offset %d: %s", e.Offset, e.Msg)
}

// Decode parses one record from data (the custom data of a block, which may
// carry trailing padding). It returns the record length it consumed. Unknown
// fields are skipped, so newer writers stay readable.
func Decode(data []byte, r *Record) (int, error) {
	// The previous record's comm is kept when this one's is the same, so
	// a socket's records do not each allocate its name again.
	prevComm := r.Comm
	*r = Record{}
	if len(data) < 8 {
		return 0, &DecodeError{0, fmt.Sprintf("record of %d bytes is shorter than its 8-byte prefix", len(data))}
	}
	if data[0] != Version {
		return 0, &DecodeError{0, fmt.Sprintf("%v %d", ErrVersion, data[0])}
	}
	hlen := int(binary.LittleEndian.Uint16(data[2:]))
	rlen := int(binary.LittleEndian.Uint32(data[4:]))
	switch {
	case hlen < HeaderLen:
		return 0, &DecodeError{2, fmt.Sprintf("header length %d below %d", hlen, HeaderLen)}
	case rlen < hlen || rlen > len(data) || rlen > MaxRecordLen:
		return 0, &DecodeError{4, fmt.Sprintf("record length %d outside [%d, %d]", rlen, hlen, min(len(data), MaxRecordLen))}
	}
	data = data[:rlen]
	r.Kind = Kind(data[1])
	r.TS = int64(binary.LittleEndian.Uint64(data[8:]))
	r.Cookie = binary.LittleEndian.Uint64(data[16:])
	r.Sport = binary.LittleEndian.Uint16(data[26:])
	r.Dport = binary.LittleEndian.Uint16(data[28:])
	switch data[24] {
	case 4:
		r.Saddr = netip.AddrFrom4([4]byte(data[32:36]))
		r.Daddr = netip.AddrFrom4([4]byte(data[48:52]))
	case 6:
		r.Saddr = netip.AddrFrom16([16]byte(data[32:48]))
		r.Daddr = netip.AddrFrom16([16]byte(data[48:64]))
	default:
		return 0, &DecodeError{24, fmt.Sprintf("address family %d, want 4 or 6", data[24])}
	}
	// One loop with the field's value read and stored in place through
	// fieldTab: a call per field to find where it goes (set's switch) and
	// another to read its width cost more than the rest of the decoding.
	for off := hlen; off < rlen; {
		if rlen-off >= 8 {
			// An integer field of 4 bytes (most): header and value in one
			// word. Anything else (a comm of 4 bytes, an unknown field)
			// takes the general path.
			w := binary.LittleEndian.Uint64(data[off : off+8 : off+8])
			if t := uint16(w); w>>16&0xffff == 4 && int(t) < len(fieldTab) && fieldTab[t].kind != fieldUnknown {
				off += 8
				r.store(&fieldTab[t], w>>32)
				continue
			}
		}
		if rlen-off < 4 {
			return 0, &DecodeError{off, "field header runs past the record"}
		}
		h := binary.LittleEndian.Uint32(data[off:])
		t, n := uint16(h), int(h>>16)
		if n > rlen-off-4 {
			return 0, &DecodeError{off, fmt.Sprintf("field %d length %d runs past the record", t, n)}
		}
		at := off
		b := data[off+4 : off+4+n]
		off += 4 + (n+3)&^3
		if t == FieldComm {
			if string(b) == prevComm {
				r.Comm = prevComm
			} else {
				r.Comm = string(b)
			}
			continue
		}
		var v uint64
		switch n {
		case 4:
			v = uint64(binary.LittleEndian.Uint32(b))
		case 8:
			v = binary.LittleEndian.Uint64(b)
		case 1:
			v = uint64(b[0])
		case 2:
			v = uint64(binary.LittleEndian.Uint16(b))
		default:
			if r.set(t, 0) {
				return 0, &DecodeError{at, fmt.Sprintf("field %d: integer field of %d bytes", t, n)}
			}
			continue // unknown field: skipped so newer writers stay readable
		}
		if int(t) < len(fieldTab) {
			r.store(&fieldTab[t], v)
		}
	}
	return rlen, nil
}

// store stores v in the field of slot f (nothing for an unknown one).
func (r *Record) store(f *fieldSlot, v uint64) {
	p := unsafe.Add(unsafe.Pointer(r), f.off)
	switch f.kind {
	case fieldU32:
		*(*uint32)(p) = uint32(v)
	case fieldU64:
		*(*uint64)(p) = v
	case fieldU8:
		*(*uint8)(p) = uint8(v)
	case fieldBool:
		*(*bool)(p) = v != 0
	default:
		return
	}
	r.Has |= f.has
	if f.timer {
		r.HasTimer = true
	}
}

// Kinds of a fieldTab entry: the width of the Record's field, or a bool.
const (
	fieldUnknown = iota
	fieldU8
	fieldU32
	fieldU64
	fieldBool
)

// fieldSlot is where Decode stores an integer field: the Record's field at
// off, of kind, and the bits of Has (or HasTimer) it sets. It stores what
// set does (TestFieldTabSameAsSet).
type fieldSlot struct {
	off   uintptr
	kind  uint8
	timer bool
	has   uint16
}

// fieldTab is the slot of each integer field code (fieldUnknown for codes
// this decoder does not know).
var fieldTab = func() (t [FieldRetransmits + 1]fieldSlot) {
	var r Record
	at := func(code uint16, p unsafe.Pointer, kind uint8, has uint16) {
		t[code] = fieldSlot{off: uintptr(p) - uintptr(unsafe.Pointer(&r)), kind: kind, has: has}
	}
	u32 := func(code uint16, p *uint32) { at(code, unsafe.Pointer(p), fieldU32, 0) }
	u64 := func(code uint16, p *uint64) { at(code, unsafe.Pointer(p), fieldU64, 0) }
	u8 := func(code uint16, p *uint8) { at(code, unsafe.Pointer(p), fieldU8, 0) }
	u32(FieldSndCwnd, &r.SndCwnd)
	u32(FieldSsthresh, &r.Ssthresh)
	u32(FieldSRTTus, &r.SRTTus)
	u32(FieldRTTVarus, &r.RTTVarus)
	u32(FieldSndWnd, &r.SndWnd)
	u32(FieldRcvWnd, &r.RcvWnd)
	u32(FieldPacketsOut, &r.PacketsOut)
	u32(FieldRetransOut, &r.RetransOut)
	u32(FieldLostOut, &r.LostOut)
	u32(FieldSackedOut, &r.SackedOut)
	u32(FieldDelivered, &r.Delivered)
	u32(FieldTotalRetrans, &r.TotalRetrans)
	u32(FieldSndUna, &r.SndUna)
	u32(FieldSndNxt, &r.SndNxt)
	u32(FieldRcvNxt, &r.RcvNxt)
	u32(FieldMSS, &r.MSS)
	u8(FieldCAState, &r.CAState)
	u64(FieldPacingRate, &r.PacingRate)
	u32(FieldSeq, &r.Seq)
	u32(FieldEndSeq, &r.EndSeq)
	u8(FieldTCPFlags, &r.TCPFlags)
	u32(FieldSegs, &r.Segs)
	u8(FieldOldState, &r.OldState)
	u8(FieldNewState, &r.NewState)
	u32(FieldPID, &r.PID)
	u64(FieldBytesAcked, &r.BytesAcked)
	u64(FieldBytesRecv, &r.BytesRecv)
	u64(FieldSpanNS, &r.SpanNS)
	u8(FieldResetDir, &r.ResetDir)
	at(FieldBusyUS, unsafe.Pointer(&r.BusyUS), fieldU64, HasChrono)
	at(FieldRwndLimitedUS, unsafe.Pointer(&r.RwndLimitedUS), fieldU64, HasChrono)
	at(FieldSndbufLimitedUS, unsafe.Pointer(&r.SndbufLimitedUS), fieldU64, HasChrono)
	at(FieldCwndLimited, unsafe.Pointer(&r.CwndLimited), fieldBool, HasCwndLimited)
	at(FieldAppLimited, unsafe.Pointer(&r.AppLimited), fieldBool, HasAppLimited)
	at(FieldRateDelivered, unsafe.Pointer(&r.RateDelivered), fieldU32, HasRate)
	at(FieldRateIntervalUS, unsafe.Pointer(&r.RateIntervalUS), fieldU32, HasRate)
	at(FieldMinRTTus, unsafe.Pointer(&r.MinRTTus), fieldU32, HasMinRTT)
	at(FieldUnsent, unsafe.Pointer(&r.Unsent), fieldU32, HasUnsent)
	at(FieldWmemQueued, unsafe.Pointer(&r.WmemQueued), fieldU32, HasWmem)
	at(FieldSndbuf, unsafe.Pointer(&r.Sndbuf), fieldU32, HasWmem)
	at(FieldSndWScale, unsafe.Pointer(&r.SndWScale), fieldU8, HasWScale)
	at(FieldRcvWScale, unsafe.Pointer(&r.RcvWScale), fieldU8, HasWScale)
	u8(FieldTimerPending, &r.TimerPending)
	u8(FieldRetransmits, &r.Retransmits)
	t[FieldTimerPending].timer, t[FieldRetransmits].timer = true, true
	return t
}()

// set stores v in the integer field t and reports whether t is one this
// decoder knows. Decode stores through fieldTab, which must do the same.
func (r *Record) set(t uint16, v uint64) bool {
	switch t {
	case FieldSndCwnd:
		r.SndCwnd = uint32(v)
	case FieldSsthresh:
		r.Ssthresh = uint32(v)
	case FieldSRTTus:
		r.SRTTus = uint32(v)
	case FieldRTTVarus:
		r.RTTVarus = uint32(v)
	case FieldSndWnd:
		r.SndWnd = uint32(v)
	case FieldRcvWnd:
		r.RcvWnd = uint32(v)
	case FieldPacketsOut:
		r.PacketsOut = uint32(v)
	case FieldRetransOut:
		r.RetransOut = uint32(v)
	case FieldLostOut:
		r.LostOut = uint32(v)
	case FieldSackedOut:
		r.SackedOut = uint32(v)
	case FieldDelivered:
		r.Delivered = uint32(v)
	case FieldTotalRetrans:
		r.TotalRetrans = uint32(v)
	case FieldSndUna:
		r.SndUna = uint32(v)
	case FieldSndNxt:
		r.SndNxt = uint32(v)
	case FieldRcvNxt:
		r.RcvNxt = uint32(v)
	case FieldMSS:
		r.MSS = uint32(v)
	case FieldCAState:
		r.CAState = uint8(v)
	case FieldPacingRate:
		r.PacingRate = v
	case FieldSeq:
		r.Seq = uint32(v)
	case FieldEndSeq:
		r.EndSeq = uint32(v)
	case FieldTCPFlags:
		r.TCPFlags = uint8(v)
	case FieldSegs:
		r.Segs = uint32(v)
	case FieldOldState:
		r.OldState = uint8(v)
	case FieldNewState:
		r.NewState = uint8(v)
	case FieldPID:
		r.PID = uint32(v)
	case FieldBytesAcked:
		r.BytesAcked = v
	case FieldBytesRecv:
		r.BytesRecv = v
	case FieldSpanNS:
		r.SpanNS = v
	case FieldResetDir:
		r.ResetDir = uint8(v)
	case FieldBusyUS:
		r.BusyUS, r.Has = v, r.Has|HasChrono
	case FieldRwndLimitedUS:
		r.RwndLimitedUS, r.Has = v, r.Has|HasChrono
	case FieldSndbufLimitedUS:
		r.SndbufLimitedUS, r.Has = v, r.Has|HasChrono
	case FieldCwndLimited:
		r.CwndLimited, r.Has = v != 0, r.Has|HasCwndLimited
	case FieldAppLimited:
		r.AppLimited, r.Has = v != 0, r.Has|HasAppLimited
	case FieldRateDelivered:
		r.RateDelivered, r.Has = uint32(v), r.Has|HasRate
	case FieldRateIntervalUS:
		r.RateIntervalUS, r.Has = uint32(v), r.Has|HasRate
	case FieldMinRTTus:
		r.MinRTTus, r.Has = uint32(v), r.Has|HasMinRTT
	case FieldUnsent:
		r.Unsent, r.Has = uint32(v), r.Has|HasUnsent
	case FieldWmemQueued:
		r.WmemQueued, r.Has = uint32(v), r.Has|HasWmem
	case FieldSndbuf:
		r.Sndbuf, r.Has = uint32(v), r.Has|HasWmem
	case FieldSndWScale:
		r.SndWScale, r.Has = uint8(v), r.Has|HasWScale
	case FieldRcvWScale:
		r.RcvWScale, r.Has = uint8(v), r.Has|HasWScale
	case FieldTimerPending:
		r.TimerPending, r.HasTimer = uint8(v), true
	case FieldRetransmits:
		r.Retransmits, r.HasTimer = uint8(v), true
	default:
		return false
	}
	return true
}
