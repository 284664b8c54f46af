package events

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strconv"

	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// A kernel record's JSON (kblock.Record's tags and MarshalJSON) is most of
// the bytes of a capture written by tcpviz capture: a kernel_sample carries
// about 35 numbers. Each number is written with its key in place: the key's
// text from a fixed array copied whole and the digits in one or two words,
// after one check of the room left; the texts that repeat per socket (the
// kind, the 4-tuple with the cookie, the pid with the command) are kept by
// the writer's cache.

// keyText is a key, `,"name":` (or a constant text up to 32 bytes), in an
// array copied whole.
type keyText struct {
	b [32]byte
	n int
}

func newKey(s string) keyText {
	var k keyText
	if len(s) > len(k.b) {
		panic("events: key text longer than its array: " + s)
	}
	k.n = copy(k.b[:], s)
	return k
}

// keyNumRoom is the room appendKeyUint needs: the key's array and the
// digits of a number below 10^16 in two words after the longest key.
const keyNumRoom = 48

// appendKey appends k.
func appendKey(b []byte, k *keyText) []byte {
	if cap(b)-len(b) < len(k.b) {
		b = slices.Grow(b, len(k.b))
	}
	n := len(b)
	*(*[32]byte)(b[n : n+32]) = k.b
	return b[:n+k.n]
}

// appendKeyUint appends k and v as appendUint writes it.
func appendKeyUint(b []byte, k *keyText, v uint64) []byte {
	if cap(b)-len(b) < keyNumRoom {
		b = slices.Grow(b, keyNumRoom)
	}
	n := len(b)
	*(*[32]byte)(b[n : n+32]) = k.b
	n += k.n
	switch {
	case v < 10:
		b = b[:n+1]
		b[n] = byte('0' + v)
		return b
	case v < 1e8:
		w, m := smallText(digits8(uint32(v)))
		binary.LittleEndian.PutUint64(b[n:n+8], w)
		return b[:n+m]
	case v < 1e16:
		// 1 <= v/1e8 < 1e8: smallText's word holds its first digits.
		w, m := smallText(digits8(uint32(v / 1e8)))
		binary.LittleEndian.PutUint64(b[n:n+8], w)
		n += m
		binary.LittleEndian.PutUint64(b[n:n+8], digits8(uint32(v%1e8))|0x3030303030303030)
		return b[:n+8]
	}
	return strconv.AppendUint(b[:n], v, 10)
}

// The keys of the kernel record's numbers, in the order of its fields.
var (
	kCookie          = newKey(`,"cookie":`)
	kSport           = newKey(`,"sport":`)
	kDport           = newKey(`,"dport":`)
	kSndCwnd         = newKey(`,"snd_cwnd":`)
	kSsthresh        = newKey(`,"ssthresh":`)
	kSRTTus          = newKey(`,"srtt_us":`)
	kRTTVarus        = newKey(`,"rttvar_us":`)
	kSndWnd          = newKey(`,"snd_wnd":`)
	kRcvWnd          = newKey(`,"rcv_wnd":`)
	kPacketsOut      = newKey(`,"packets_out":`)
	kRetransOut      = newKey(`,"retrans_out":`)
	kLostOut         = newKey(`,"lost_out":`)
	kSackedOut       = newKey(`,"sacked_out":`)
	kDelivered       = newKey(`,"delivered":`)
	kTotalRetrans    = newKey(`,"total_retrans":`)
	kSndUna          = newKey(`,"snd_una":`)
	kSndNxt          = newKey(`,"snd_nxt":`)
	kRcvNxt          = newKey(`,"rcv_nxt":`)
	kMSS             = newKey(`,"mss":`)
	kCAState         = newKey(`,"ca_state":`)
	kPacingRate      = newKey(`,"pacing_rate":`)
	kSeq             = newKey(`,"seq":`)
	kEndSeq          = newKey(`,"end_seq":`)
	kTCPFlags        = newKey(`,"tcp_flags":`)
	kSegs            = newKey(`,"segs":`)
	kOldState        = newKey(`,"old_state":`)
	kNewState        = newKey(`,"new_state":`)
	kPID             = newKey(`,"pid":`)
	kBytesAcked      = newKey(`,"bytes_acked":`)
	kBytesRecv       = newKey(`,"bytes_received":`)
	kSpanNS          = newKey(`,"span_ns":`)
	kResetDir        = newKey(`,"reset_dir":`)
	kBusyUS          = newKey(`,"busy_us":`)
	kRwndLimitedUS   = newKey(`,"rwnd_limited_us":`)
	kSndbufLimitedUS = newKey(`,"sndbuf_limited_us":`)
	kRateDelivered   = newKey(`,"rate_delivered":`)
	kRateIntervalUS  = newKey(`,"rate_interval_us":`)
	kMinRTTus        = newKey(`,"min_rtt_us":`)
	kUnsent          = newKey(`,"unsent_bytes":`)
	kWmemQueued      = newKey(`,"wmem_queued":`)
	kSndbuf          = newKey(`,"sndbuf":`)
	kSndWScale       = newKey(`,"snd_wscale":`)
	kRcvWScale       = newKey(`,"rcv_wscale":`)
	kTimerPending    = newKey(`,"timer_pending":`)
	kRetransmits     = newKey(`,"retransmits":`)

	// The booleans' keys with their values.
	kCwndLimited = [2]keyText{newKey(`,"cwnd_limited":false`), newKey(`,"cwnd_limited":true`)}
	kAppLimited  = [2]keyText{newKey(`,"app_limited":false`), newKey(`,"app_limited":true`)}

	// kKinds is `,"kernel":{"record":"<kind>"` of the kinds tcpviz writes,
	// by kblock.Kind.
	kKinds = [...]keyText{kblock.KindProbe: newKey(`,"kernel":{"record":"probe"`),
		kblock.KindRetransmit: newKey(`,"kernel":{"record":"retransmit"`),
		kblock.KindState:      newKey(`,"kernel":{"record":"state"`),
		kblock.KindReset:      newKey(`,"kernel":{"record":"reset"`)}
)

// appendKernel appends `,"kernel":` and r as encoding/json writes it, with
// c's kept texts when c is not nil.
func appendKernel(b []byte, r *kblock.Record, c *eventCache) []byte {
	if int(r.Kind) < len(kKinds) && kKinds[r.Kind].n > 0 {
		b = appendKey(b, &kKinds[r.Kind])
	} else {
		b = append(b, `,"kernel":{"record":`...)
		b = jsonString(b, r.Kind.String())
	}
	if c != nil {
		b = c.appendSocket(b, r)
	} else {
		b = appendSocket(b, r)
	}
	b = appendKernelState(b, r)
	if r.PID != 0 || r.Comm != "" {
		if c != nil {
			b = c.appendProc(b, r)
		} else {
			b = appendProc(b, r)
		}
	}
	if r.BytesAcked|r.BytesRecv|r.SpanNS|uint64(r.ResetDir) != 0 {
		b = appendKernelTotals(b, r)
	}
	return appendKernelLimits(b, r)
}

// appendSocket appends the cookie, the addresses and the ports of r.
func appendSocket(b []byte, r *kblock.Record) []byte {
	if r.Cookie != 0 {
		b = appendKeyUint(b, &kCookie, r.Cookie)
	}
	b = append(b, `,"saddr":`...)
	b = appendAddr(b, r.Saddr)
	b = append(b, `,"daddr":`...)
	b = appendAddr(b, r.Daddr)
	b = appendKeyUint(b, &kSport, uint64(r.Sport))
	return appendKeyUint(b, &kDport, uint64(r.Dport))
}

// appendKernelState appends the socket's numbers from snd_cwnd to segs,
// those that are not 0.
func appendKernelState(b []byte, r *kblock.Record) []byte {
	u := func(b []byte, k *keyText, v uint64) []byte {
		if v == 0 {
			return b
		}
		return appendKeyUint(b, k, v)
	}
	b = u(b, &kSndCwnd, uint64(r.SndCwnd))
	b = u(b, &kSsthresh, uint64(r.Ssthresh))
	b = u(b, &kSRTTus, uint64(r.SRTTus))
	b = u(b, &kRTTVarus, uint64(r.RTTVarus))
	b = u(b, &kSndWnd, uint64(r.SndWnd))
	b = u(b, &kRcvWnd, uint64(r.RcvWnd))
	b = u(b, &kPacketsOut, uint64(r.PacketsOut))
	b = u(b, &kRetransOut, uint64(r.RetransOut))
	b = u(b, &kLostOut, uint64(r.LostOut))
	b = u(b, &kSackedOut, uint64(r.SackedOut))
	b = u(b, &kDelivered, uint64(r.Delivered))
	b = u(b, &kTotalRetrans, uint64(r.TotalRetrans))
	b = u(b, &kSndUna, uint64(r.SndUna))
	b = u(b, &kSndNxt, uint64(r.SndNxt))
	b = u(b, &kRcvNxt, uint64(r.RcvNxt))
	b = u(b, &kMSS, uint64(r.MSS))
	b = u(b, &kCAState, uint64(r.CAState))
	b = u(b, &kPacingRate, r.PacingRate)
	b = u(b, &kSeq, uint64(r.Seq))
	b = u(b, &kEndSeq, uint64(r.EndSeq))
	b = u(b, &kTCPFlags, uint64(r.TCPFlags))
	b = u(b, &kSegs, uint64(r.Segs))
	b = u(b, &kOldState, uint64(r.OldState))
	return u(b, &kNewState, uint64(r.NewState))
}

// appendProc appends the pid and the command, those that are set.
func appendProc(b []byte, r *kblock.Record) []byte {
	if r.PID != 0 {
		b = appendKeyUint(b, &kPID, uint64(r.PID))
	}
	if r.Comm != "" {
		b = fStr(b, `,"comm":`, r.Comm)
	}
	return b
}

// appendKernelTotals appends the byte counts, the span and the reset's
// direction, those that are not 0.
func appendKernelTotals(b []byte, r *kblock.Record) []byte {
	if r.BytesAcked != 0 {
		b = appendKeyUint(b, &kBytesAcked, r.BytesAcked)
	}
	if r.BytesRecv != 0 {
		b = appendKeyUint(b, &kBytesRecv, r.BytesRecv)
	}
	if r.SpanNS != 0 {
		b = appendKeyUint(b, &kSpanNS, r.SpanNS)
	}
	if r.ResetDir != 0 {
		b = appendKeyUint(b, &kResetDir, uint64(r.ResetDir))
	}
	return b
}

// appendKernelLimits appends the send-limit groups the record carries, zero
// values included (kblock.Record.MarshalJSON), and closes the object.
func appendKernelLimits(b []byte, r *kblock.Record) []byte {
	if r.Has&kblock.HasChrono != 0 {
		b = appendKeyUint(b, &kBusyUS, r.BusyUS)
		b = appendKeyUint(b, &kRwndLimitedUS, r.RwndLimitedUS)
		b = appendKeyUint(b, &kSndbufLimitedUS, r.SndbufLimitedUS)
	}
	if r.Has&kblock.HasCwndLimited != 0 {
		b = appendKey(b, &kCwndLimited[b2i(r.CwndLimited)])
	}
	if r.Has&kblock.HasAppLimited != 0 {
		b = appendKey(b, &kAppLimited[b2i(r.AppLimited)])
	}
	if r.Has&kblock.HasRate != 0 {
		b = appendKeyUint(b, &kRateDelivered, uint64(r.RateDelivered))
		b = appendKeyUint(b, &kRateIntervalUS, uint64(r.RateIntervalUS))
	}
	if r.Has&kblock.HasMinRTT != 0 {
		b = appendKeyUint(b, &kMinRTTus, uint64(r.MinRTTus))
	}
	if r.Has&kblock.HasUnsent != 0 {
		b = appendKeyUint(b, &kUnsent, uint64(r.Unsent))
	}
	if r.Has&kblock.HasWmem != 0 {
		b = appendKeyUint(b, &kWmemQueued, uint64(r.WmemQueued))
		b = appendKeyUint(b, &kSndbuf, uint64(r.Sndbuf))
	}
	if r.Has&kblock.HasWScale != 0 {
		b = appendKeyUint(b, &kSndWScale, uint64(r.SndWScale))
		b = appendKeyUint(b, &kRcvWScale, uint64(r.RcvWScale))
	}
	if r.HasTimer {
		b = appendKeyUint(b, &kTimerPending, uint64(r.TimerPending))
		b = appendKeyUint(b, &kRetransmits, uint64(r.Retransmits))
	}
	return append(b, '}')
}

func b2i(v bool) int {
	if v {
		return 1
	}
	return 0
}

// appendAddr writes an address as its MarshalText form ("" for the zero
// address).
func appendAddr(b []byte, a netip.Addr) []byte {
	if a.Zone() != "" {
		return jsonString(b, a.String()) // a zone is free text
	}
	b = append(b, '"')
	b = a.AppendTo(b)
	return append(b, '"')
}

// kernSlots is the sockets whose kept texts c holds, by cookie and port.
const kernSlots = 8

// kernSocket is the text of a socket's cookie, addresses and ports, when
// tx.n > 0.
type kernSocket struct {
	cookie       uint64
	saddr, daddr netip.Addr
	sport, dport uint16
	tx           text128
}

// kernProc is the text of a record's pid and command, when tx.n > 0.
type kernProc struct {
	pid  uint32
	comm string
	tx   text64
}

// appendSocket is appendSocket with the text kept per socket: a socket's
// records repeat them, and the addresses cost most of the record's text
// otherwise.
func (c *eventCache) appendSocket(b []byte, r *kblock.Record) []byte {
	k := &c.socks[(r.Cookie^uint64(r.Sport)^uint64(r.Dport))%kernSlots]
	if k.tx.n > 0 && k.cookie == r.Cookie && k.sport == r.Sport && k.dport == r.Dport && k.saddr == r.Saddr && k.daddr == r.Daddr {
		return k.tx.put(b)
	}
	n := len(b)
	b = appendSocket(b, r)
	k.cookie, k.saddr, k.daddr, k.sport, k.dport = r.Cookie, r.Saddr, r.Daddr, r.Sport, r.Dport
	k.tx.keep(b[n:])
	return b
}

// appendProc is appendProc with the text of the last pid and command
// kept.
func (c *eventCache) appendProc(b []byte, r *kblock.Record) []byte {
	k := &c.proc
	if k.tx.n > 0 && k.pid == r.PID && sameText(k.comm, r.Comm) {
		return k.tx.put(b)
	}
	n := len(b)
	b = appendProc(b, r)
	k.pid, k.comm = r.PID, r.Comm
	k.tx.keep(b[n:])
	return b
}
