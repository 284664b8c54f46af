package events

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// Event types: the `type` field of an event record. These names are part of
// the public schema (docs/events.md, docs/detectors.md).
const (
	TypeRetransmission   = "retransmission"
	TypeOutOfOrder       = "out_of_order"
	TypeLostSegment      = "lost_segment"
	TypeDupAck           = "dup_ack"
	TypeLossInfer        = "loss_infer"
	TypeZeroWindow       = "zero_window"
	TypeZeroWindowProbe  = "zero_window_probe"
	TypeWindowFull       = "window_full"
	TypeKeepAlive        = "keep_alive"
	TypeHandshakeAnomaly = "handshake_anomaly"
	TypeTeardownAnomaly  = "teardown_anomaly"
	TypeRTTSample        = "rtt_sample"
	TypeKernelSample     = "kernel_sample"
	TypeKernelRetransmit = "kernel_retransmit"
	TypeKernelState      = "kernel_state"
	TypeKernelReset      = "kernel_reset"
	TypeReordering       = "reordering"
	TypeSpuriousRetrans  = "spurious_retransmission"
	TypePacket           = "packet"
)

// IsFinding reports whether an event type counts as a detector event in
// every total tcpviz shows (parse-pcap, sessions, dashboards, summary): the
// detectors' findings, not the records they read (kernel_* records, RTT
// samples, packets).
func IsFinding(typ string) bool {
	switch typ {
	case TypeRTTSample, TypePacket, TypeKernelSample, TypeKernelRetransmit, TypeKernelState, TypeKernelReset:
		return false
	}
	return len(typ) < 7 || typ[:7] != "kernel_"
}

// Findings is the total of the types IsFinding counts.
func Findings(byType map[string]int) int {
	n := 0
	for k, v := range byType {
		if IsFinding(k) {
			n += v
		}
	}
	return n
}

// FindingCounts keeps the counts of the types IsFinding counts (nil when
// none is above zero).
func FindingCounts(byType map[string]int) map[string]int {
	var out map[string]int
	for k, v := range byType {
		if IsFinding(k) && v > 0 {
			if out == nil {
				out = make(map[string]int)
			}
			out[k] = v
		}
	}
	return out
}

// Retransmission kinds (the `kind` field of a retransmission event).
const (
	RetransRTO      = "rto"
	RetransFast     = "fast"
	RetransSpurious = "spurious"
	RetransSYN      = "syn"
	RetransFIN      = "fin"
	RetransTLP      = "tlp" // tail-loss probe: the last segment resent by a timer before the RTO
)

// True and False are the values of Event.Confirmed.
var (
	True  = func() *bool { b := true; return &b }()
	False = func() *bool { b := false; return &b }()
)

// Reasons for loss_infer, handshake_anomaly and teardown_anomaly.
const (
	ReasonTripleDupAck     = "triple_duplicate_ack"
	ReasonAckStall         = "ack_stall"
	ReasonRetransNoDupAcks = "retransmission_without_dup_acks"
	ReasonSACKHole         = "sack_hole"
	ReasonSYNRetry         = "syn_retry"
	ReasonNoSYNACK         = "no_syn_ack"
	ReasonRefused          = "refused"
	ReasonRSTStorm         = "rst_storm"
	ReasonFINStorm         = "fin_storm"
	ReasonHandshake        = "handshake" // rtt_sample from SYN to the ACK of the SYN/ACK
	ReasonDataAck          = "data_ack"  // rtt_sample from data to the ACK that covers it
	ReasonTimestamp        = "timestamp" // rtt_sample from TSval to the TSecr that echoes it
	ReasonSACK             = "sack"      // rtt_sample from data to the ACK that first SACKs it
)

// Severity grades an event for the monitor and the dashboards.
type Severity string

const (
	SevInfo     Severity = "info"
	SevWarn     Severity = "warn"
	SevCritical Severity = "critical"
)

// Timestamp is nanoseconds since the Unix epoch, encoded in JSON as RFC 3339
// in UTC with exactly nine fraction digits ("2026-11-23T09:22:17.602608120Z"),
// so that the text of two timestamps sorts as their times do.
type Timestamp int64

// Time converts to time.Time (UTC).
func (t Timestamp) Time() time.Time { return time.Unix(0, int64(t)).UTC() }

// MarshalJSON writes the RFC 3339 form.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	return t.AppendJSON(make([]byte, 0, 32)), nil
}

// UnmarshalJSON reads the RFC 3339 form or a plain integer of nanoseconds.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] != '"' {
		n, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return fmt.Errorf("timestamp %s: %w", b, err)
		}
		*t = Timestamp(n)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("timestamp %q: %w", s, err)
	}
	*t = Timestamp(tm.UnixNano())
	return nil
}

// MarshalText encodes a direction as "c2s" or "s2c".
func (d Dir) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText decodes "c2s" or "s2c".
func (d *Dir) UnmarshalText(b []byte) error {
	switch string(b) {
	case "c2s":
		*d = DirC2S
	case "s2c":
		*d = DirS2C
	default:
		return fmt.Errorf("direction %q: want c2s or s2c", b)
	}
	return nil
}

// Endpoint formats an address and port as "10.0.0.1:80" or "[2001:db8::1]:80".
func Endpoint(a netip.Addr, port uint16) string {
	return netip.AddrPortFrom(a, port).String()
}

// Context is the state of the flow when an event was raised. Inferred values
// come from the packets; Kernel* values come from the newest kernel sample of
// the socket and are zero when the capture carries none.
type Context struct {
	BytesInFlight int64   `json:"bytes_in_flight"`          // unacknowledged bytes in the event's direction
	SRTTms        float64 `json:"srtt_ms,omitempty"`        // smoothed RTT inferred from packets
	KernelCwnd    uint32  `json:"kernel_cwnd,omitempty"`    // snd_cwnd in segments
	KernelSRTTus  uint32  `json:"kernel_srtt_us,omitempty"` // srtt_us >> 3
	KernelSsthr   uint32  `json:"kernel_ssthresh,omitempty"`
}

// Event is one detector finding or kernel record. Fields that do not apply to
// a type are omitted from JSON.
type Event struct {
	Type     string    `json:"type"`
	Frame    uint64    `json:"frame"`
	TS       Timestamp `json:"ts"`
	Flow     uint64    `json:"flow"`
	Dir      Dir       `json:"dir"`
	Src      string    `json:"src"`
	Dst      string    `json:"dst"`
	Severity Severity  `json:"severity"`

	Kind   string `json:"kind,omitempty"`   // retransmission kind
	Reason string `json:"reason,omitempty"` // loss_infer, anomalies, rtt_sample

	Seq      uint32  `json:"seq,omitempty"` // relative sequence number of the segment
	Len      uint32  `json:"len,omitempty"` // payload length of the segment
	Ack      uint32  `json:"ack,omitempty"` // relative ack number
	Count    int     `json:"count,omitempty"`
	RefFrame uint64  `json:"ref_frame,omitempty"` // the frame this event refers back to
	RTTms    float64 `json:"rtt_ms,omitempty"`
	Window   int64   `json:"window,omitempty"` // scaled window when it matters
	Note     string  `json:"note,omitempty"`

	// Confirmed is set on loss_infer events about a hole the receiver
	// reported: false until a retransmission of the hole confirms the loss
	// (a later loss_infer with true); a hole that closes by itself is
	// reordering instead.
	Confirmed *bool `json:"confirmed,omitempty"`
	// DegreeSegs and DegreeMS measure a reordering: segments that overtook
	// the late data and how long the hole stayed open.
	DegreeSegs int     `json:"degree_segs,omitempty"`
	DegreeMS   float64 `json:"degree_ms,omitempty"`
	// Cause is the kernel's reason for a retransmission (kernel_retransmit:
	// recovery, loss, loss_probe, other) when the record tells it.
	Cause string `json:"cause,omitempty"`

	Context Context        `json:"context"`
	Kernel  *kblock.Record `json:"kernel,omitempty"`
	Limit   *LimitChange   `json:"limit,omitempty"` // limit_change
}

// PacketRecord is the JSON form of a Packet (written with --packets).
type PacketRecord struct {
	Type         string      `json:"type"`
	Frame        uint64      `json:"frame"`
	TS           Timestamp   `json:"ts"`
	Flow         uint64      `json:"flow"`
	Dir          Dir         `json:"dir"`
	Src          string      `json:"src"`
	Dst          string      `json:"dst"`
	Seq          uint32      `json:"seq"`
	Ack          uint32      `json:"ack"`
	RelSeq       uint32      `json:"rel_seq"`
	RelAck       uint32      `json:"rel_ack"`
	Len          uint32      `json:"len"`
	Flags        string      `json:"flags"`
	Window       uint16      `json:"window"`
	WindowScaled *int64      `json:"window_scaled"` // null when the scale is unknown
	MSS          uint16      `json:"mss,omitempty"`
	WScale       *uint8      `json:"wscale,omitempty"`
	SACKPerm     bool        `json:"sack_perm,omitempty"`
	SACK         [][2]uint32 `json:"sack,omitempty"` // relative [left, right)
	TSVal        *uint32     `json:"tsval,omitempty"`
	TSEcr        *uint32     `json:"tsecr,omitempty"`
}

// Record converts p into its JSON form. peerISN is subtracted from SACK
// blocks (they acknowledge the peer's data); pass 0 when unknown.
func (p *Packet) Record(peerISN uint32) PacketRecord {
	r := PacketRecord{
		Type: TypePacket, Frame: p.Frame, TS: Timestamp(p.TS), Flow: p.Flow, Dir: p.Dir,
		Src: Endpoint(p.Src, p.SrcPort), Dst: Endpoint(p.Dst, p.DstPort),
		Seq: p.Seq, Ack: p.Ack, RelSeq: p.RelSeq, RelAck: p.RelAck, Len: p.Len,
		Flags: FlagString(p.Flags), Window: p.Window,
		MSS: p.Options.MSS, SACKPerm: p.Options.SACKPerm,
	}
	if p.WindowScaled >= 0 {
		w := p.WindowScaled
		r.WindowScaled = &w
	}
	if p.Options.HasWScale {
		ws := p.Options.WScale
		r.WScale = &ws
	}
	if p.Options.HasTS {
		v, e := p.Options.TSVal, p.Options.TSEcr
		r.TSVal, r.TSEcr = &v, &e
	}
	for i := 0; i < int(p.Options.NumSACK); i++ {
		b := p.Options.SACK[i]
		r.SACK = append(r.SACK, [2]uint32{b.Left - peerISN, b.Right - peerISN})
	}
	return r
}
