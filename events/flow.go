package events

import (
	"fmt"
	"math"
	"strconv"
)

// FlowRecord is one line of flows.jsonl: a connection from its first to its
// last packet. "Client" is the side that sent the SYN; when the handshake was
// not captured it is the sender of the first packet seen (or the receiver of
// a SYN/ACK). Byte counts are TCP payload bytes, retransmissions included.
type FlowRecord struct {
	Type       string    `json:"type"` // "flow"
	Flow       uint64    `json:"flow"`
	Client     string    `json:"client"` // "addr:port"
	Server     string    `json:"server"`
	ClientAddr string    `json:"client_addr"`
	ServerAddr string    `json:"server_addr"`
	ClientPort uint16    `json:"client_port"`
	ServerPort uint16    `json:"server_port"`
	First      Timestamp `json:"first"`
	Last       Timestamp `json:"last"`
	DurationMS float64   `json:"duration_ms"`
	FirstFrame uint64    `json:"first_frame"`
	LastFrame  uint64    `json:"last_frame"`
	// Resumed counts the records of this connection written before this
	// one: a connection that left the table (ended, or idle) and then saw a
	// packet that continues it (not a SYN opening a new connection) comes
	// back under the same id, and its next record covers the packets since
	// it came back. 0 (absent) for a connection's first record.
	Resumed int `json:"resumed,omitempty"`
	// Encap is the encapsulation path of the connection's first packet,
	// outermost first ("eth/ip", "eth/vlan:100/ip/gre/eth/ip").
	Encap string `json:"encap,omitempty"`
	// Tunnel is the overlay the connection travelled in, when it has an
	// identifier (VXLAN/Geneve VNI, GRE key, GTP-U TEID).
	Tunnel *FlowTunnel `json:"tunnel,omitempty"`

	PacketsC2S uint64 `json:"packets_c2s"`
	PacketsS2C uint64 `json:"packets_s2c"`
	BytesC2S   uint64 `json:"bytes_c2s"` // TCP payload bytes
	BytesS2C   uint64 `json:"bytes_s2c"`
	WireC2S    uint64 `json:"wire_bytes_c2s"` // frame bytes on the wire (original length)
	WireS2C    uint64 `json:"wire_bytes_s2c"`

	HandshakeSeen  bool    `json:"handshake_seen"` // SYN, SYN/ACK and the ACK were all captured
	HandshakeRTTms float64 `json:"handshake_rtt_ms,omitempty"`
	WScaleC2S      int     `json:"wscale_c2s"` // -1 when unknown
	WScaleS2C      int     `json:"wscale_s2c"`
	MSSC2S         uint16  `json:"mss_c2s,omitempty"`
	MSSS2C         uint16  `json:"mss_s2c,omitempty"`
	SACKPermitted  bool    `json:"sack_permitted,omitempty"`

	// End says how the connection ended in the capture: "fin" (both FINs),
	// "half_closed" (one FIN), "rst", "refused" (SYN answered by RST),
	// "no_answer" (SYN never answered) or "open".
	End string `json:"end"`
	// State is the Zeek conn_state (SF, S0, REJ, RSTO, RSTR, S1, S2, S3, SH, SHR, OTH, RSTOS0, RSTRH).
	State string `json:"state"`
	// History is the Zeek history string (S h A D F R, upper case from the client, lower from the server).
	History string `json:"history"`

	// ZeroWindowMS is the time during which either side advertised a zero
	// receive window (the sender could send nothing new), and
	// ZeroWindowShare its share of the connection's duration, 0..1
	// (docs/figures.md).
	ZeroWindowMS    float64 `json:"zero_window_ms,omitempty"`
	ZeroWindowShare float64 `json:"zero_window_share,omitempty"`

	// Filled from detector events and kernel records when present.
	Events        map[string]int `json:"events,omitempty"` // count by event type
	Retransmitted uint64         `json:"retransmitted_bytes,omitempty"`
	RTTMinMS      float64        `json:"rtt_min_ms,omitempty"`
	RTTAvgMS      float64        `json:"rtt_avg_ms,omitempty"`
	RTTMaxMS      float64        `json:"rtt_max_ms,omitempty"`
	RTTP50MS      float64        `json:"rtt_p50_ms,omitempty"`
	RTTP95MS      float64        `json:"rtt_p95_ms,omitempty"`
	RTTSamples    int            `json:"rtt_samples,omitempty"`
	// The kernel's view of the same socket, from kernel records: median of
	// the srtt in its samples, and the lowest min_rtt.
	KernelSRTTP50MS float64       `json:"kernel_srtt_p50_ms,omitempty"`
	KernelMinRTTMS  float64       `json:"kernel_min_rtt_ms,omitempty"`
	PID             uint32        `json:"pid,omitempty"`
	Comm            string        `json:"comm,omitempty"`
	KernelRetrans   *RetransCheck `json:"kernel_retrans,omitempty"`
	// Limits says what limited each direction that carried data.
	Limits FlowLimits `json:"limits,omitzero"`
}

// SetZeroWindow sets the zero-window figures from the time in ns: the
// milliseconds to the microsecond and the share to four decimals.
func (r *FlowRecord) SetZeroWindow(ns int64) {
	r.ZeroWindowMS, r.ZeroWindowShare = 0, 0
	if ns <= 0 {
		return
	}
	r.ZeroWindowMS = float64(ns/1e3) / 1e3
	if d := int64(r.Last) - int64(r.First); d > 0 {
		r.ZeroWindowShare = math.Round(float64(ns)/float64(d)*1e4) / 1e4
	}
}

// ZeroWindowLabel is how the tables show the zero-window figures: the share
// of the connection's time and the time, one word ("62%/2.5s"), "-" when
// none.
func ZeroWindowLabel(ms, share float64) string {
	if ms <= 0 {
		return "-"
	}
	return strconv.FormatFloat(share*100, 'f', 0, 64) + "%/" + fmtSecondsShort(ms/1000)
}

// fmtSecondsShort writes a duration without a space, for table cells.
func fmtSecondsShort(s float64) string { return fmtSecondsSep(s, "") }

// ConnStateText says in a plain word how a connection went, for a Zeek
// conn_state (the client is Zeek's originator): one token, so text tables
// stay easy to cut. Outputs show both side by side: "S0 no-reply".
func ConnStateText(state string) string {
	switch state {
	case "SF":
		return "normal-close"
	case "S0":
		return "no-reply"
	case "REJ":
		return "refused"
	case "S1":
		return "open"
	case "S2":
		return "client-closed"
	case "S3":
		return "server-closed"
	case "RSTO":
		return "reset-by-client"
	case "RSTR":
		return "reset-by-server"
	case "RSTOS0":
		return "syn-then-reset"
	case "RSTRH":
		return "synack-then-reset"
	case "SH":
		return "syn-fin-no-reply"
	case "SHR":
		return "synack-fin-only"
	case "OTH":
		return "mid-stream"
	}
	return ""
}

// ConnState writes a conn_state with its plain word ("S0 no-reply").
func ConnState(state string) string {
	if t := ConnStateText(state); t != "" {
		return state + " " + t
	}
	return state
}

// RetransCheck compares the retransmissions tcpviz inferred from packets with
// the kernel's own retransmission records for the same connection. Every
// figure counts segments: a retransmitted super-segment (TSO/GSO) counts
// once per MSS-sized segment it carries, as the kernel counts it.
type RetransCheck struct {
	Kernel     int     `json:"kernel"`      // segments the kernel's records say it retransmitted
	KernelSeen int     `json:"kernel_seen"` // of those, segments seen retransmitted on the wire
	Inferred   int     `json:"inferred"`    // segments inferred as retransmitted from packets
	Matched    int     `json:"matched"`     // of those, segments a kernel record confirms
	Precision  float64 `json:"precision"`   // matched / inferred
	Recall     float64 `json:"recall"`      // kernel_seen / kernel
	// Loss episodes: the kernel's entries into recovery or loss (CA state),
	// and the inferred ones (docs/detectors.md).
	KernelLossEpisodes   int `json:"kernel_loss_episodes"`
	InferredLossEpisodes int `json:"inferred_loss_episodes"`
	// Retransmission kinds: kernel segments whose cause (recovery, loss,
	// loss probe) was compared with the matching inferred kind (fast, rto,
	// tlp), and those that agreed.
	KindsCompared int `json:"kinds_compared"`
	KindsAgreed   int `json:"kinds_agreed"`
	// Retransmitted segments by why they were sent, on each side: the
	// kernel's causes (recovery, loss, loss probe) under the inferred kinds
	// they compare with (fast, rto, tlp).
	KernelKinds   RetransKinds `json:"kernel_kinds"`
	InferredKinds RetransKinds `json:"inferred_kinds"`
	// RTT at the kernel's records (each counting for itself and the
	// segments its socket receives until the next): the medians of the
	// kernel's srtt and of the inferred smoothed RTT (the samples smoothed
	// with the kernel's gain of 1/8); and the median of the inferred RTT
	// samples (the connection's rtt_p50_ms). In summary.json: the medians
	// over connections.
	RTTRecords        int     `json:"rtt_records"`
	KernelSRTTP50MS   float64 `json:"kernel_srtt_p50_ms"`
	InferredSRTTP50MS float64 `json:"inferred_srtt_p50_ms"`
	InferredRTTP50MS  float64 `json:"inferred_rtt_p50_ms"`
}

// RetransKinds counts retransmitted segments by kind. For the kernel's
// records: Fast is cause recovery, RTO loss, TLP loss_probe, Other any other
// cause or a record without the timer fields.
type RetransKinds struct {
	Fast  int `json:"fast"`
	RTO   int `json:"rto"`
	TLP   int `json:"tlp"`
	Other int `json:"other"`
}

// Add counts n segments of kind (fast, rto, tlp; anything else is other).
func (k *RetransKinds) Add(kind string, n int) {
	switch kind {
	case RetransFast:
		k.Fast += n
	case RetransRTO:
		k.RTO += n
	case RetransTLP:
		k.TLP += n
	default:
		k.Other += n
	}
}

// Sum adds o's counts to k.
func (k *RetransKinds) Sum(o RetransKinds) {
	k.Fast, k.RTO, k.TLP, k.Other = k.Fast+o.Fast, k.RTO+o.RTO, k.TLP+o.TLP, k.Other+o.Other
}

func (k RetransKinds) String() string {
	return fmt.Sprintf("%d/%d/%d/%d", k.Fast, k.RTO, k.TLP, k.Other)
}

// Add sums o's counts into r: a capture's check is the sum of its
// connections'. Rates and the RTT medians are not sums; Rates sets the
// former, the caller the latter.
func (r *RetransCheck) Add(o *RetransCheck) {
	r.Kernel += o.Kernel
	r.KernelSeen += o.KernelSeen
	r.Inferred += o.Inferred
	r.Matched += o.Matched
	r.KernelLossEpisodes += o.KernelLossEpisodes
	r.InferredLossEpisodes += o.InferredLossEpisodes
	r.KindsCompared += o.KindsCompared
	r.KindsAgreed += o.KindsAgreed
	r.KernelKinds.Sum(o.KernelKinds)
	r.InferredKinds.Sum(o.InferredKinds)
	r.RTTRecords += o.RTTRecords
}

// Rates sets precision (matched of inferred) and recall (kernel_seen of
// kernel) from the counts, each where its denominator is not 0; otherwise it
// leaves it as it was.
func (r *RetransCheck) Rates() {
	if r.Inferred > 0 {
		r.Precision = float64(r.Matched) / float64(r.Inferred)
	}
	if r.Kernel > 0 {
		r.Recall = float64(r.KernelSeen) / float64(r.Kernel)
	}
}

// String is the one-line account parse-pcap, summary and the dashboard show.
func (r RetransCheck) String() string {
	pct := func(n, d int) string {
		if d == 0 {
			return "n/a"
		}
		return strconv.FormatFloat(100*float64(n)/float64(d), 'f', 1, 64) + "%"
	}
	s := fmt.Sprintf("retransmitted segments: %d in kernel records, %d inferred from packets; "+
		"recall %s (%d of the kernel's seen on the wire), precision %s (%d of the inferred confirmed by the kernel)",
		r.Kernel, r.Inferred, pct(r.KernelSeen, r.Kernel), r.KernelSeen, pct(r.Matched, r.Inferred), r.Matched)
	// The rest of the scorecard, each figure in the same unit on both sides.
	s += fmt.Sprintf("; loss episodes: %d kernel, %d inferred", r.KernelLossEpisodes, r.InferredLossEpisodes)
	if r.KernelSRTTP50MS > 0 {
		s += fmt.Sprintf("; RTT median: kernel srtt %.3f ms, inferred samples %.3f ms, inferred smoothed %.3f ms",
			r.KernelSRTTP50MS, r.InferredRTTP50MS, r.InferredSRTTP50MS)
	}
	if k := r.KernelKinds; k.Fast+k.RTO+k.TLP > 0 {
		s += fmt.Sprintf("; retransmitted segments by kind (fast/rto/tlp/other): kernel %s, inferred %s", r.KernelKinds, r.InferredKinds)
	}
	if r.KindsCompared > 0 {
		s += fmt.Sprintf("; retransmission kinds agree with the kernel's cause on %d of %d segments (%s)",
			r.KindsAgreed, r.KindsCompared, pct(r.KindsAgreed, r.KindsCompared))
	}
	return s
}

// Summary is summary.json: the figures of one run.
type Summary struct {
	Schema        int               `json:"schema"`
	Tool          string            `json:"tool"`
	Input         string            `json:"input"`
	Inputs        []string          `json:"inputs,omitempty"` // the files read, when Input named several (a directory or a pattern)
	InputBytes    int64             `json:"input_bytes"`
	Format        string            `json:"format"` // pcap, pcapng, with "+gzip"
	Started       Timestamp         `json:"started"`
	Seconds       float64           `json:"seconds"`
	PacketsPerSec float64           `json:"packets_per_sec"`
	Frames        uint64            `json:"frames"`  // frames as Wireshark numbers them
	Packets       uint64            `json:"packets"` // packet records
	TCPPackets    uint64            `json:"tcp_packets"`
	KernelRecords uint64            `json:"kernel_records"`
	Skipped       map[string]uint64 `json:"skipped"` // by reason
	Flows         int               `json:"flows"`
	Events        map[string]int    `json:"events"` // by type
	FirstPacket   Timestamp         `json:"first_packet,omitempty"`
	LastPacket    Timestamp         `json:"last_packet,omitempty"`
	Warnings      []string          `json:"warnings,omitempty"`       // e.g. a truncated last block
	KernelRetrans *RetransCheck     `json:"kernel_retrans,omitempty"` // all flows together
	// KernelLimits compares the limits inferred from packets with the
	// kernel's accounting; Limits are the worst connections (ComparePriority).
	KernelLimits *LimitsCheck `json:"kernel_limits,omitempty"`
	Limits       []Verdict    `json:"limits,omitempty"`
	// ZeroWindowMS adds up the connections' zero-window time
	// (FlowRecord.ZeroWindowMS); ZeroWindowFlows counts the connections
	// that had any.
	ZeroWindowMS    float64  `json:"zero_window_ms,omitempty"`
	ZeroWindowFlows int      `json:"zero_window_flows,omitempty"`
	Files           []string `json:"files"` // what the run wrote
}
