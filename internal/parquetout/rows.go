package parquetout

import (
	"net/netip"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// SchemaVersion is the version of the Parquet tables described in
// docs/parquet.md. It is written into every file's key-value metadata as
// "tcpviz.schema" and changes whenever a column changes meaning; new columns
// may appear without a change.
const SchemaVersion = 1

// Tables by name, as they appear in the table=NAME partition directory.
const (
	TableEvents  = "events"
	TableFlows   = "flows"
	TableKernel  = "kernel"
	TablePackets = "packets"
)

// The rows below follow the JSON records of package events field for field
// (schema_test.go checks that every JSON field has its column), with the
// types every engine reads: signed integers only, timestamps as
// TIMESTAMP(MICROS, UTC) plus the exact nanoseconds in *_ns, nested objects
// flattened with their name as a prefix. host is never a column: it is the
// host=H partition directory.

// Origin is where a row comes from: the first columns of every table (an
// embedded struct's columns take its place in the row).
type Origin struct {
	CaptureFile string `parquet:"capture_file,dict"`
	Frame       int64  `parquet:"frame"`
	TS          int64  `parquet:"ts,timestamp(microsecond:utc)"`
	TSNs        int64  `parquet:"ts_ns"`
}

func origin(file string, frame uint64, ts events.Timestamp) Origin {
	return Origin{CaptureFile: file, Frame: int64(frame), TS: micros(int64(ts)), TSNs: int64(ts)}
}

// ContextCols is an event's context (events.Context), the last columns of
// the events and kernel tables.
type ContextCols struct {
	BytesInFlight int64   `parquet:"context_bytes_in_flight"`
	SRTTms        float64 `parquet:"context_srtt_ms"`
	KernelCwnd    int64   `parquet:"context_kernel_cwnd"`
	KernelSRTTus  int64   `parquet:"context_kernel_srtt_us"`
	KernelSsthr   int64   `parquet:"context_kernel_ssthresh"`
}

func contextCols(c *events.Context) ContextCols {
	return ContextCols{BytesInFlight: c.BytesInFlight, SRTTms: c.SRTTms, KernelCwnd: int64(c.KernelCwnd),
		KernelSRTTus: int64(c.KernelSRTTus), KernelSsthr: int64(c.KernelSsthr)}
}

// EventRow is one row of the events table: a detector event.
type EventRow struct {
	Origin
	Type       string  `parquet:"type,dict"`
	Flow       int64   `parquet:"flow"`
	Dir        string  `parquet:"dir,dict"`
	Src        string  `parquet:"src,dict"`
	Dst        string  `parquet:"dst,dict"`
	ClientAddr string  `parquet:"client_addr,dict"`
	ClientPort int32   `parquet:"client_port"`
	ServerAddr string  `parquet:"server_addr,dict"`
	ServerPort int32   `parquet:"server_port"`
	ServerNet  string  `parquet:"server_prefix,dict"`
	Severity   string  `parquet:"severity,dict"`
	Kind       string  `parquet:"kind,dict"`
	Reason     string  `parquet:"reason,dict"`
	Seq        int64   `parquet:"seq"`
	Len        int64   `parquet:"len"`
	Ack        int64   `parquet:"ack"`
	Count      int64   `parquet:"count"`
	RefFrame   int64   `parquet:"ref_frame"`
	RTTms      float64 `parquet:"rtt_ms"`
	Window     int64   `parquet:"window"`
	Note       string  `parquet:"note,dict"`
	Confirmed  *bool   `parquet:"confirmed,optional"` // loss_infer about a reported hole
	DegreeSegs int64   `parquet:"degree_segs"`
	DegreeMS   float64 `parquet:"degree_ms"`
	Cause      string  `parquet:"cause,dict"`

	// limit_change events.
	LimitSource string  `parquet:"limit_source,dict"`
	LimitFrom   string  `parquet:"limit_from,dict"`
	LimitTo     string  `parquet:"limit_to,dict"`
	LimitShare  float64 `parquet:"limit_share"`
	LimitStart  *int64  `parquet:"limit_start,optional,timestamp(microsecond:utc)"`
	LimitEnd    *int64  `parquet:"limit_end,optional,timestamp(microsecond:utc)"`

	ContextCols
}

// FlowRow is one row of the flows table: a connection summary. ts is the
// first packet, frame the first frame.
type FlowRow struct {
	Origin
	Last       int64   `parquet:"last,timestamp(microsecond:utc)"`
	LastNs     int64   `parquet:"last_ns"`
	DurationMS float64 `parquet:"duration_ms"`
	Flow       int64   `parquet:"flow"`
	FirstFrame int64   `parquet:"first_frame"`
	LastFrame  int64   `parquet:"last_frame"`
	Resumed    int64   `parquet:"resumed"` // 0 on a connection's first row
	Client     string  `parquet:"client"`
	Server     string  `parquet:"server,dict"`
	ClientAddr string  `parquet:"client_addr,dict"`
	ServerAddr string  `parquet:"server_addr,dict"`
	ClientPort int32   `parquet:"client_port"`
	ServerPort int32   `parquet:"server_port"`
	ServerNet  string  `parquet:"server_prefix,dict"`

	Encap        string `parquet:"encap,dict"`
	TunnelKind   string `parquet:"tunnel_kind,dict"` // '' when not in an overlay
	TunnelID     *int64 `parquet:"tunnel_id,optional"`
	TunnelPeerID *int64 `parquet:"tunnel_peer_id,optional"`

	PacketsC2S int64 `parquet:"packets_c2s"`
	PacketsS2C int64 `parquet:"packets_s2c"`
	BytesC2S   int64 `parquet:"bytes_c2s"`
	BytesS2C   int64 `parquet:"bytes_s2c"`
	WireC2S    int64 `parquet:"wire_bytes_c2s"`
	WireS2C    int64 `parquet:"wire_bytes_s2c"`

	HandshakeSeen  bool    `parquet:"handshake_seen"`
	HandshakeRTTms float64 `parquet:"handshake_rtt_ms"`
	WScaleC2S      int32   `parquet:"wscale_c2s"`
	WScaleS2C      int32   `parquet:"wscale_s2c"`
	MSSC2S         int32   `parquet:"mss_c2s"`
	MSSS2C         int32   `parquet:"mss_s2c"`
	SACKPermitted  bool    `parquet:"sack_permitted"`
	End            string  `parquet:"end,dict"`
	State          string  `parquet:"state,dict"`
	History        string  `parquet:"history,dict"`

	Events        map[string]int64 `parquet:"events"`
	Retransmitted int64            `parquet:"retransmitted_bytes"`
	RTTMinMS      float64          `parquet:"rtt_min_ms"`
	RTTAvgMS      float64          `parquet:"rtt_avg_ms"`
	RTTMaxMS      float64          `parquet:"rtt_max_ms"`
	RTTP50MS      float64          `parquet:"rtt_p50_ms"`
	RTTP95MS      float64          `parquet:"rtt_p95_ms"`
	RTTSamples    int64            `parquet:"rtt_samples"`
	ZeroWindowMS  float64          `parquet:"zero_window_ms"`
	ZeroWindowShr float64          `parquet:"zero_window_share"`
	KSRTTP50MS    float64          `parquet:"kernel_srtt_p50_ms"`
	KMinRTTMS     float64          `parquet:"kernel_min_rtt_ms"`
	PID           int64            `parquet:"pid"`
	Comm          string           `parquet:"comm,dict"`

	// kernel_retrans, null when the connection had no kernel records.
	KRKernel    *int64    `parquet:"kernel_retrans_kernel,optional"`
	KRSeen      *int64    `parquet:"kernel_retrans_kernel_seen,optional"`
	KRInferred  *int64    `parquet:"kernel_retrans_inferred,optional"`
	KRMatched   *int64    `parquet:"kernel_retrans_matched,optional"`
	KRPrecision *float64  `parquet:"kernel_retrans_precision,optional"`
	KRRecall    *float64  `parquet:"kernel_retrans_recall,optional"`
	KRKEpisodes *int64    `parquet:"kernel_retrans_kernel_loss_episodes,optional"`
	KRIEpisodes *int64    `parquet:"kernel_retrans_inferred_loss_episodes,optional"`
	KRKinds     *int64    `parquet:"kernel_retrans_kinds_compared,optional"`
	KRKindsOK   *int64    `parquet:"kernel_retrans_kinds_agreed,optional"`
	KRRTTRecs   *int64    `parquet:"kernel_retrans_rtt_records,optional"`
	KRKSRTT     *float64  `parquet:"kernel_retrans_kernel_srtt_p50_ms,optional"`
	KRISRTT     *float64  `parquet:"kernel_retrans_inferred_srtt_p50_ms,optional"`
	KRIRTT      *float64  `parquet:"kernel_retrans_inferred_rtt_p50_ms,optional"`
	KRKKinds    *KindsCol `parquet:"kernel_retrans_kernel_kinds,optional"`
	KRIKinds    *KindsCol `parquet:"kernel_retrans_inferred_kinds,optional"`

	LimitsC2S *DirLimitsCol `parquet:"limits_c2s,optional"`
	LimitsS2C *DirLimitsCol `parquet:"limits_s2c,optional"`
}

// KernelRow is one row of the kernel table: a kernel record from the
// capture's custom blocks. saddr:sport is the socket's local end.
type KernelRow struct {
	Origin
	Type     string `parquet:"type,dict"`
	Flow     int64  `parquet:"flow"`
	Dir      string `parquet:"dir,dict"`
	Severity string `parquet:"severity,dict"`

	Record string `parquet:"record,dict"`
	// Cookie is the socket cookie's 64 bits read as a signed integer.
	Cookie int64  `parquet:"cookie"`
	Saddr  string `parquet:"saddr,dict"`
	Daddr  string `parquet:"daddr,dict"`
	Sport  int32  `parquet:"sport"`
	Dport  int32  `parquet:"dport"`

	SndCwnd      int64 `parquet:"snd_cwnd"`
	Ssthresh     int64 `parquet:"ssthresh"`
	SRTTus       int64 `parquet:"srtt_us"`
	RTTVarus     int64 `parquet:"rttvar_us"`
	SndWnd       int64 `parquet:"snd_wnd"`
	RcvWnd       int64 `parquet:"rcv_wnd"`
	PacketsOut   int64 `parquet:"packets_out"`
	RetransOut   int64 `parquet:"retrans_out"`
	LostOut      int64 `parquet:"lost_out"`
	SackedOut    int64 `parquet:"sacked_out"`
	Delivered    int64 `parquet:"delivered"`
	TotalRetrans int64 `parquet:"total_retrans"`
	SndUna       int64 `parquet:"snd_una"`
	SndNxt       int64 `parquet:"snd_nxt"`
	RcvNxt       int64 `parquet:"rcv_nxt"`
	MSS          int64 `parquet:"mss"`
	CAState      int32 `parquet:"ca_state"`
	PacingRate   int64 `parquet:"pacing_rate"`

	Seq      int64 `parquet:"seq"`
	EndSeq   int64 `parquet:"end_seq"`
	TCPFlags int32 `parquet:"tcp_flags"`
	Segs     int64 `parquet:"segs"`

	OldState   int32  `parquet:"old_state"`
	NewState   int32  `parquet:"new_state"`
	PID        int64  `parquet:"pid"`
	Comm       string `parquet:"comm,dict"`
	BytesAcked int64  `parquet:"bytes_acked"`
	BytesRecv  int64  `parquet:"bytes_received"`
	SpanNS     int64  `parquet:"span_ns"`
	ResetDir   int32  `parquet:"reset_dir"`

	// Send limits: null when the record does not carry the group.
	BusyUS          *int64 `parquet:"busy_us,optional"`
	RwndLimitedUS   *int64 `parquet:"rwnd_limited_us,optional"`
	SndbufLimitedUS *int64 `parquet:"sndbuf_limited_us,optional"`
	CwndLimited     *bool  `parquet:"cwnd_limited,optional"`
	AppLimited      *bool  `parquet:"app_limited,optional"`
	RateDelivered   *int64 `parquet:"rate_delivered,optional"`
	RateIntervalUS  *int64 `parquet:"rate_interval_us,optional"`
	MinRTTus        *int64 `parquet:"min_rtt_us,optional"`
	Unsent          *int64 `parquet:"unsent_bytes,optional"`
	WmemQueued      *int64 `parquet:"wmem_queued,optional"`
	Sndbuf          *int64 `parquet:"sndbuf,optional"`
	SndWScale       *int32 `parquet:"snd_wscale,optional"`
	RcvWScale       *int32 `parquet:"rcv_wscale,optional"`

	ContextCols
}

// PacketRow is one row of the packets table (written only when asked).
type PacketRow struct {
	Origin
	Flow         int64   `parquet:"flow"`
	Dir          string  `parquet:"dir,dict"`
	Src          string  `parquet:"src,dict"`
	Dst          string  `parquet:"dst,dict"`
	Seq          int64   `parquet:"seq"`
	Ack          int64   `parquet:"ack"`
	RelSeq       int64   `parquet:"rel_seq"`
	RelAck       int64   `parquet:"rel_ack"`
	Len          int64   `parquet:"len"`
	Flags        string  `parquet:"flags,dict"`
	Window       int32   `parquet:"window"`
	WindowScaled *int64  `parquet:"window_scaled,optional"`
	MSS          int32   `parquet:"mss"`
	WScale       *int32  `parquet:"wscale,optional"`
	SACKPerm     bool    `parquet:"sack_perm"`
	SACKLeft     []int64 `parquet:"sack_left,list"`
	SACKRight    []int64 `parquet:"sack_right,list"`
	TSVal        *int64  `parquet:"tsval,optional"`
	TSEcr        *int64  `parquet:"tsecr,optional"`
}

func micros(ns int64) int64 {
	if ns < 0 {
		return (ns - 999) / 1000 // floor, so the µs value never lies after ts_ns
	}
	return ns / 1000
}

// endpoints splits an event's src/dst into client and server by direction.
type endpoints struct {
	clientAddr, serverAddr string
	clientPort, serverPort int32
	serverNet              string
}

// prefixOf is the address's network as engines group it: /24 for IPv4, /48
// for IPv6.
func prefixOf(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	a = a.Unmap()
	bits := 24
	if a.Is6() {
		bits = 48
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}

func splitEndpoints(src, dst string, dir events.Dir) endpoints {
	s, _ := netip.ParseAddrPort(src)
	d, _ := netip.ParseAddrPort(dst)
	c, v := s, d
	if dir == events.DirS2C {
		c, v = d, s
	}
	var ep endpoints
	if c.IsValid() {
		ep.clientAddr, ep.clientPort = c.Addr().String(), int32(c.Port())
	}
	if v.IsValid() {
		ep.serverAddr, ep.serverPort = v.Addr().String(), int32(v.Port())
		ep.serverNet = prefixOf(v.Addr())
	}
	return ep
}

func eventRow(file string, e *events.Event, ep endpoints) EventRow {
	row := EventRow{
		Origin: origin(file, e.Frame, e.TS),
		Type:   e.Type, Flow: int64(e.Flow), Dir: e.Dir.String(), Src: e.Src, Dst: e.Dst,
		ClientAddr: ep.clientAddr, ClientPort: ep.clientPort,
		ServerAddr: ep.serverAddr, ServerPort: ep.serverPort, ServerNet: ep.serverNet,
		Severity: string(e.Severity), Kind: e.Kind, Reason: e.Reason,
		Seq: int64(e.Seq), Len: int64(e.Len), Ack: int64(e.Ack), Count: int64(e.Count),
		RefFrame: int64(e.RefFrame), RTTms: e.RTTms, Window: e.Window, Note: e.Note,
		Confirmed: e.Confirmed, DegreeSegs: int64(e.DegreeSegs), DegreeMS: e.DegreeMS, Cause: e.Cause,
		ContextCols: contextCols(&e.Context),
	}
	if l := e.Limit; l != nil {
		start, end := micros(int64(l.Start)), micros(int64(l.End))
		row.LimitSource, row.LimitFrom, row.LimitTo, row.LimitShare = l.Source, l.From, l.To, l.Share
		row.LimitStart, row.LimitEnd = &start, &end
	}
	return row
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func kernelRow(file string, e *events.Event) KernelRow {
	k := e.Kernel
	row := KernelRow{
		Origin: origin(file, e.Frame, e.TS),
		Type:   e.Type, Flow: int64(e.Flow), Dir: e.Dir.String(), Severity: string(e.Severity),
		Record: k.Kind.String(), Cookie: int64(k.Cookie),
		Saddr: addrString(k.Saddr), Daddr: addrString(k.Daddr), Sport: int32(k.Sport), Dport: int32(k.Dport),
		SndCwnd: int64(k.SndCwnd), Ssthresh: int64(k.Ssthresh), SRTTus: int64(k.SRTTus),
		RTTVarus: int64(k.RTTVarus), SndWnd: int64(k.SndWnd), RcvWnd: int64(k.RcvWnd),
		PacketsOut: int64(k.PacketsOut), RetransOut: int64(k.RetransOut), LostOut: int64(k.LostOut),
		SackedOut: int64(k.SackedOut), Delivered: int64(k.Delivered), TotalRetrans: int64(k.TotalRetrans),
		SndUna: int64(k.SndUna), SndNxt: int64(k.SndNxt), RcvNxt: int64(k.RcvNxt), MSS: int64(k.MSS),
		CAState: int32(k.CAState), PacingRate: clampInt64(k.PacingRate),
		Seq: int64(k.Seq), EndSeq: int64(k.EndSeq), TCPFlags: int32(k.TCPFlags), Segs: int64(k.Segs),
		OldState: int32(k.OldState), NewState: int32(k.NewState), PID: int64(k.PID), Comm: k.Comm,
		BytesAcked: clampInt64(k.BytesAcked), BytesRecv: clampInt64(k.BytesRecv), SpanNS: clampInt64(k.SpanNS),
		ResetDir:    int32(k.ResetDir),
		ContextCols: contextCols(&e.Context),
	}
	i64 := func(v uint64) *int64 { x := clampInt64(v); return &x }
	i32 := func(v uint8) *int32 { x := int32(v); return &x }
	b := func(v bool) *bool { return &v }
	if k.Has&kblock.HasChrono != 0 {
		row.BusyUS, row.RwndLimitedUS, row.SndbufLimitedUS = i64(k.BusyUS), i64(k.RwndLimitedUS), i64(k.SndbufLimitedUS)
	}
	if k.Has&kblock.HasCwndLimited != 0 {
		row.CwndLimited = b(k.CwndLimited)
	}
	if k.Has&kblock.HasAppLimited != 0 {
		row.AppLimited = b(k.AppLimited)
	}
	if k.Has&kblock.HasRate != 0 {
		row.RateDelivered, row.RateIntervalUS = i64(uint64(k.RateDelivered)), i64(uint64(k.RateIntervalUS))
	}
	if k.Has&kblock.HasMinRTT != 0 {
		row.MinRTTus = i64(uint64(k.MinRTTus))
	}
	if k.Has&kblock.HasUnsent != 0 {
		row.Unsent = i64(uint64(k.Unsent))
	}
	if k.Has&kblock.HasWmem != 0 {
		row.WmemQueued, row.Sndbuf = i64(uint64(k.WmemQueued)), i64(uint64(k.Sndbuf))
	}
	if k.Has&kblock.HasWScale != 0 {
		row.SndWScale, row.RcvWScale = i32(k.SndWScale), i32(k.RcvWScale)
	}
	return row
}

// clampInt64 keeps counters that cannot reach 2^63 in practice from turning
// negative if a corrupt record says otherwise.
func clampInt64(v uint64) int64 {
	if v > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(v)
}

func flowRow(file string, r *events.FlowRecord) FlowRow {
	row := FlowRow{
		Origin: origin(file, r.FirstFrame, r.First),
		Last:   micros(int64(r.Last)), LastNs: int64(r.Last), DurationMS: r.DurationMS, Flow: int64(r.Flow),
		FirstFrame: int64(r.FirstFrame), LastFrame: int64(r.LastFrame), Resumed: int64(r.Resumed),
		Client: r.Client, Server: r.Server, ClientAddr: r.ClientAddr, ServerAddr: r.ServerAddr,
		ClientPort: int32(r.ClientPort), ServerPort: int32(r.ServerPort),
		PacketsC2S: clampInt64(r.PacketsC2S), PacketsS2C: clampInt64(r.PacketsS2C),
		BytesC2S: clampInt64(r.BytesC2S), BytesS2C: clampInt64(r.BytesS2C),
		WireC2S: clampInt64(r.WireC2S), WireS2C: clampInt64(r.WireS2C),
		HandshakeSeen: r.HandshakeSeen, HandshakeRTTms: r.HandshakeRTTms,
		WScaleC2S: int32(r.WScaleC2S), WScaleS2C: int32(r.WScaleS2C),
		MSSC2S: int32(r.MSSC2S), MSSS2C: int32(r.MSSS2C), SACKPermitted: r.SACKPermitted,
		End: r.End, State: r.State, History: r.History,
		Retransmitted: clampInt64(r.Retransmitted), RTTMinMS: r.RTTMinMS, RTTAvgMS: r.RTTAvgMS,
		RTTMaxMS: r.RTTMaxMS, RTTP50MS: r.RTTP50MS, RTTP95MS: r.RTTP95MS, RTTSamples: int64(r.RTTSamples),
		ZeroWindowMS: r.ZeroWindowMS, ZeroWindowShr: r.ZeroWindowShare,
		KSRTTP50MS: r.KernelSRTTP50MS, KMinRTTMS: r.KernelMinRTTMS, PID: int64(r.PID), Comm: r.Comm,
	}
	if a, err := netip.ParseAddr(r.ServerAddr); err == nil {
		row.ServerNet = prefixOf(a)
	}
	if len(r.Events) > 0 {
		row.Events = make(map[string]int64, len(r.Events))
		for k, v := range r.Events {
			row.Events[k] = int64(v)
		}
	}
	row.Encap = r.Encap
	if tn := r.Tunnel; tn != nil {
		id := int64(tn.ID)
		row.TunnelKind, row.TunnelID = tn.Kind, &id
		if tn.PeerID != nil {
			peer := int64(*tn.PeerID)
			row.TunnelPeerID = &peer
		}
	}
	row.LimitsC2S, row.LimitsS2C = dirLimitsCol(r.Limits.Dir(events.DirC2S)), dirLimitsCol(r.Limits.Dir(events.DirS2C))
	if k := r.KernelRetrans; k != nil {
		kn, seen, in, m := int64(k.Kernel), int64(k.KernelSeen), int64(k.Inferred), int64(k.Matched)
		p, rc := k.Precision, k.Recall
		row.KRKernel, row.KRSeen, row.KRInferred, row.KRMatched, row.KRPrecision, row.KRRecall = &kn, &seen, &in, &m, &p, &rc
		ke, ie, kc, ka, rr := int64(k.KernelLossEpisodes), int64(k.InferredLossEpisodes), int64(k.KindsCompared),
			int64(k.KindsAgreed), int64(k.RTTRecords)
		ks, is, ir := k.KernelSRTTP50MS, k.InferredSRTTP50MS, k.InferredRTTP50MS
		row.KRKEpisodes, row.KRIEpisodes, row.KRKinds, row.KRKindsOK, row.KRRTTRecs = &ke, &ie, &kc, &ka, &rr
		row.KRKSRTT, row.KRISRTT, row.KRIRTT = &ks, &is, &ir
		row.KRKKinds, row.KRIKinds = kindsCol(k.KernelKinds), kindsCol(k.InferredKinds)
	}
	return row
}

// KindsCol is events.RetransKinds: retransmitted segments by kind.
type KindsCol struct {
	Fast  int64 `parquet:"fast"`
	RTO   int64 `parquet:"rto"`
	TLP   int64 `parquet:"tlp"`
	Other int64 `parquet:"other"`
}

func kindsCol(k events.RetransKinds) *KindsCol {
	return &KindsCol{Fast: int64(k.Fast), RTO: int64(k.RTO), TLP: int64(k.TLP), Other: int64(k.Other)}
}

func packetRow(file string, r *events.PacketRecord) PacketRow {
	row := PacketRow{
		Origin: origin(file, r.Frame, r.TS),
		Flow:   int64(r.Flow), Dir: r.Dir.String(), Src: r.Src, Dst: r.Dst,
		Seq: int64(r.Seq), Ack: int64(r.Ack), RelSeq: int64(r.RelSeq), RelAck: int64(r.RelAck),
		Len: int64(r.Len), Flags: r.Flags, Window: int32(r.Window), WindowScaled: r.WindowScaled,
		MSS: int32(r.MSS), SACKPerm: r.SACKPerm,
	}
	if r.WScale != nil {
		v := int32(*r.WScale)
		row.WScale = &v
	}
	if r.TSVal != nil {
		v := int64(*r.TSVal)
		row.TSVal = &v
	}
	if r.TSEcr != nil {
		v := int64(*r.TSEcr)
		row.TSEcr = &v
	}
	for _, b := range r.SACK {
		row.SACKLeft = append(row.SACKLeft, int64(b[0]))
		row.SACKRight = append(row.SACKRight, int64(b[1]))
	}
	return row
}
