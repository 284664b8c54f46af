// Package conntable renders connection lifespans the way bcc's tcplife does
// (PID COMM LADDR LPORT RADDR RPORT TX_KiB RX_KiB MS), from the connection
// summaries of a capture, plus what a capture can tell beyond tcplife:
// retransmissions, RTT, the Zeek connection state and history.
//
// "Local" is the client, the side that sent the SYN (for connections whose
// handshake was not captured: the flow table's guess, see package flows),
// unless the capture says otherwise: when kernel records were captured for
// the server's socket only, the capture was taken on the server and the
// server is local.
package conntable

import (
	"net/netip"

	"github.com/tcpviz/tcpviz/events"
)

// Row is one connection as the tables show it (tcpviz flows, and the
// summary and report's connections table). TX is what the local side sent,
// RX what it received; Client and Server are the record's sides, never
// swapped.
type Row struct {
	Flow       uint64
	Start, End int64 // ns since the epoch: first and last packet
	PID        uint32
	Comm       string // empty when unknown
	LAddr      string
	LPort      uint16
	RAddr      string
	RPort      uint16
	// Client and Server are "addr:port" (the record's raw text when its
	// address does not parse).
	Client, Server string
	TXBytes        uint64 // TCP payload bytes, retransmissions included
	RXBytes        uint64
	TXWire         uint64 // frame bytes (original lengths)
	RXWire         uint64
	TXPackets      uint64
	RXPackets      uint64
	DurationMS     float64
	Retrans        int     // retransmission events (both directions)
	RetransB       uint64  // retransmitted payload bytes
	RTTms          float64 // average RTT, or the handshake's when no sample
	// The record's RTT figures, as it has them.
	RTTMin, RTTAvg, RTTMax, HandshakeRTT float64
	// Zero-window time and its share of the connection (events.FlowRecord).
	ZeroWindowMS    float64
	ZeroWindowShare float64
	State           string // Zeek conn_state
	History         string // Zeek history (upper case: the client)
	Ended           string // how the capture saw it end (fin, rst, ...)
	Events          map[string]int
	// LocalIsServer is set when the capture showed the server's socket as
	// the local one (kernel records of the server only).
	LocalIsServer bool
	// Limits is what limited the direction that carried more payload
	// (nil when no direction carried any).
	Limits *events.DirLimits
	// Problem ranks the connection among the worst (events.ComparePriority).
	Problem events.Problem
}

// Packets is the packets of both directions.
func (r *Row) Packets() uint64 { return r.TXPackets + r.RXPackets }

// Bytes is the payload of both directions.
func (r *Row) Bytes() uint64 { return r.TXBytes + r.RXBytes }

// BytesC2S is the payload the client sent.
func (r *Row) BytesC2S() uint64 {
	if r.LocalIsServer {
		return r.RXBytes
	}
	return r.TXBytes
}

// BytesS2C is the payload the server sent.
func (r *Row) BytesS2C() uint64 {
	if r.LocalIsServer {
		return r.TXBytes
	}
	return r.RXBytes
}

// Limit is Limits.Label() ("rwnd 61%", "~cwnd 80%" when inferred), empty
// when no direction carried payload.
func (r *Row) Limit() string {
	if r.Limits == nil {
		return ""
	}
	return r.Limits.Label()
}

// KnownPID reports whether the owning process is known.
func (r *Row) KnownPID() bool { return r.PID != 0 || r.Comm != "" }

// FromFlow turns a connection summary into a row. localIsServer swaps the
// sides (see the package comment).
func FromFlow(f *events.FlowRecord, localIsServer bool) Row {
	r := Row{
		Flow: f.Flow, Start: int64(f.First), End: int64(f.Last),
		PID: f.PID, Comm: f.Comm,
		LAddr: f.ClientAddr, LPort: f.ClientPort, RAddr: f.ServerAddr, RPort: f.ServerPort,
		TXBytes: f.BytesC2S, RXBytes: f.BytesS2C, TXWire: f.WireC2S, RXWire: f.WireS2C,
		TXPackets: f.PacketsC2S, RXPackets: f.PacketsS2C,
		DurationMS: f.DurationMS,
		Retrans:    f.Events[events.TypeRetransmission],
		RetransB:   f.Retransmitted,
		Client:     endpoint(f.ClientAddr, f.ClientPort, f.Client),
		Server:     endpoint(f.ServerAddr, f.ServerPort, f.Server),
		RTTms:      f.RTTAvgMS,
		RTTMin:     f.RTTMinMS, RTTAvg: f.RTTAvgMS, RTTMax: f.RTTMaxMS, HandshakeRTT: f.HandshakeRTTms,
		ZeroWindowMS: f.ZeroWindowMS, ZeroWindowShare: f.ZeroWindowShare,
		State: f.State, History: f.History, Ended: f.End, Events: f.Events,
	}
	if r.RTTms == 0 {
		r.RTTms = f.HandshakeRTTms
	}
	r.Limits, _ = f.MainLimits()
	r.Problem = f.Problem()
	if localIsServer {
		r.LocalIsServer = true
		r.LAddr, r.RAddr = r.RAddr, r.LAddr
		r.LPort, r.RPort = r.RPort, r.LPort
		r.TXBytes, r.RXBytes = r.RXBytes, r.TXBytes
		r.TXWire, r.RXWire = r.RXWire, r.TXWire
		r.TXPackets, r.RXPackets = r.RXPackets, r.TXPackets
	}
	return r
}

// Sides learns from kernel records which end of each connection is the
// capturing host's socket. It is a pipeline sink: add it to the pipeline
// that produces the flow records.
type Sides struct {
	seen map[uint64]uint8 // bit 0: the client's socket, bit 1: the server's
}

// NewSides returns an empty Sides.
func NewSides() *Sides { return &Sides{seen: make(map[uint64]uint8)} }

// Packet is part of the sink interface; packets say nothing about sockets.
func (s *Sides) Packet(*events.Packet) {}

// Event records the socket a kernel record came from. A kernel record's
// source is the socket's own address, and the pipeline sets Dir to the
// direction that address sends in: c2s for the client's socket.
func (s *Sides) Event(e *events.Event) {
	if e.Kernel == nil || e.Flow == 0 {
		return
	}
	bit := uint8(1)
	if e.Dir == events.DirS2C {
		bit = 2
	}
	s.seen[e.Flow] |= bit
}

// LocalIsServer reports whether only the server's socket was seen. When both
// ends are local (loopback) or neither was seen, the client is local.
func (s *Sides) LocalIsServer(flow uint64) bool {
	if s == nil {
		return false
	}
	return s.seen[flow] == 2
}

// endpoint is addr:port, or the raw "addr:port" text when addr does not
// parse.
func endpoint(addr string, port uint16, raw string) string {
	if ap, ok := ParseEndpoint(addr, port, raw); ok {
		return ap.String()
	}
	return raw
}

// ParseEndpoint reads one side of a flow record: its address and port, or
// else its "addr:port" text; false when neither parses.
func ParseEndpoint(addr string, port uint16, raw string) (netip.AddrPort, bool) {
	if a, err := netip.ParseAddr(addr); err == nil {
		return netip.AddrPortFrom(a, port), true
	}
	if ap, err := netip.ParseAddrPort(raw); err == nil {
		return ap, true
	}
	return netip.AddrPort{}, false
}

// ipVersion is 4 or 6 for the IP column of the wide table.
func ipVersion(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return "-"
	}
	if a.Is4() || a.Is4In6() {
		return "4"
	}
	return "6"
}
