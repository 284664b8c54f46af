package viz

import (
	"fmt"
	"net/netip"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// synthSink receives synthetic traffic; both the Collector and test
// recorders implement it.
type synthSink interface {
	Packet(p *events.Packet)
	Event(e *events.Event)
}

// synthConfig describes a synthetic capture: bulk transfers with periodic
// losses answered by dup ACKs with SACK blocks and a retransmission.
type synthConfig struct {
	Flows       int
	Packets     int    // data segments per flow
	LossEvery   int    // 0: no loss
	Kernel      bool   // emit kernel_sample events
	Comm        string // process name in kernel records
	Start       int64  // ns
	GapNS       int64  // between segments
	ClientBase  string // first client address
	ServerAddr  string
	ServerPort  uint16
	FirstFlowID uint64
}

type synthOut struct {
	Flows   []events.FlowRecord
	Summary events.Summary
	Packets int
}

// synthesize generates the traffic of cfg into sink. It reuses one Packet
// like the pipeline does, so sinks that keep pointers get caught.
func synthesize(cfg synthConfig, sink synthSink) synthOut {
	if cfg.GapNS == 0 {
		cfg.GapNS = 20_000
	}
	if cfg.Start == 0 {
		cfg.Start = 1_700_000_000_000_000_000
	}
	if cfg.ClientBase == "" {
		cfg.ClientBase = "10.0.0.1"
	}
	if cfg.ServerAddr == "" {
		cfg.ServerAddr = "10.0.1.1"
	}
	if cfg.ServerPort == 0 {
		cfg.ServerPort = 5201
	}
	if cfg.FirstFlowID == 0 {
		cfg.FirstFlowID = 1
	}
	var out synthOut
	var frame uint64
	srv := netip.MustParseAddr(cfg.ServerAddr)
	cli := netip.MustParseAddr(cfg.ClientBase)
	var p events.Packet
	var e events.Event
	const mss = 1448
	const isnC, isnS = 1_000_000, 5_000_000
	out.Summary.Events = map[string]int{}
	// Connections follow one another so capture time only moves forward.
	ts := cfg.Start
	for f := 0; f < cfg.Flows; f++ {
		flow := cfg.FirstFlowID + uint64(f)
		cport := uint16(40000 + f)
		ts += cfg.GapNS * 50
		rec := events.FlowRecord{Type: "flow", Flow: flow, ClientAddr: cli.String(), ServerAddr: srv.String(),
			ClientPort: cport, ServerPort: cfg.ServerPort, Client: events.Endpoint(cli, cport),
			Server: events.Endpoint(srv, cfg.ServerPort), First: events.Timestamp(ts), Events: map[string]int{},
			End: "fin", HandshakeSeen: true, HandshakeRTTms: 0.05, WScaleC2S: 7, WScaleS2C: 7}
		send := func(dir events.Dir, relSeq, relAck, length uint32, flags uint16, win int64) {
			frame++
			p = events.Packet{Frame: frame, TS: ts, Flow: flow, Dir: dir, Flags: flags, Len: length,
				RelSeq: relSeq, RelAck: relAck, WindowScaled: win, Window: uint16(win >> 7)}
			if dir == events.DirC2S {
				p.Src, p.SrcPort, p.Dst, p.DstPort = cli, cport, srv, cfg.ServerPort
				p.Seq, p.Ack = isnC+relSeq, isnS+relAck
				rec.PacketsC2S++
				rec.BytesC2S += uint64(length)
			} else {
				p.Src, p.SrcPort, p.Dst, p.DstPort = srv, cfg.ServerPort, cli, cport
				p.Seq, p.Ack = isnS+relSeq, isnC+relAck
				rec.PacketsS2C++
				rec.BytesS2C += uint64(length)
			}
			sink.Packet(&p)
			out.Packets++
			ts += cfg.GapNS
		}
		event := func(typ, kind string, seq, length uint32, sev events.Severity) {
			e = events.Event{Type: typ, Frame: frame, TS: events.Timestamp(ts), Flow: flow, Dir: events.DirC2S,
				Src: events.Endpoint(cli, cport), Dst: events.Endpoint(srv, cfg.ServerPort), Severity: sev,
				Kind: kind, Seq: seq, Len: length, Context: events.Context{BytesInFlight: 64 * mss, SRTTms: 0.2}}
			if typ == events.TypeRTTSample {
				e.Reason, e.RTTms, e.Kind = events.ReasonDataAck, 0.1+float64(seq%7)/50, ""
			}
			sink.Event(&e)
			rec.Events[typ]++
			out.Summary.Events[typ]++
		}
		win := int64(512 * 1024)
		send(events.DirC2S, 0, 0, 0, events.FlagSYN, -1)
		send(events.DirS2C, 0, 1, 0, events.FlagSYN|events.FlagACK, -1)
		send(events.DirC2S, 1, 1, 0, events.FlagACK, win)
		acked := uint32(1)
		var lost uint32
		// A Reno-like window: +1 segment per window's worth of ACKed
		// segments, cut to 70% at a loss; RTT grows with the queue it builds.
		cwnd, grow := 10.0, 0.0
		lossEvery := cfg.LossEvery
		if lossEvery > 0 {
			lossEvery += f * 97 // connections differ
		}
		for i := 0; i < cfg.Packets; i++ {
			seq := 1 + uint32(i)*mss
			if grow += 1 / cwnd; grow >= 1 {
				cwnd, grow = cwnd+1, 0
			}
			if lossEvery > 0 && i%lossEvery == lossEvery/2 && lost == 0 {
				lost = seq // not sent now: the receiver will SACK around it
				cwnd = max(cwnd*0.7, 2)
				continue
			}
			send(events.DirC2S, seq, 1, mss, events.FlagACK|events.FlagPSH, win)
			if lost != 0 {
				// Receiver: dup ACK with a SACK block covering what arrived.
				frame++
				pk := events.Packet{Frame: frame, TS: ts, Flow: flow, Dir: events.DirS2C, Flags: events.FlagACK,
					Src: srv, SrcPort: cfg.ServerPort, Dst: cli, DstPort: cport, RelSeq: 1, RelAck: lost,
					Seq: isnS + 1, Ack: isnC + lost, WindowScaled: win, Window: uint16(win >> 7)}
				pk.Options.NumSACK = 1
				pk.Options.SACK[0] = events.SACKBlock{Left: isnC + lost + mss, Right: isnC + seq + mss}
				sink.Packet(&pk)
				out.Packets++
				rec.PacketsS2C++
				ts += cfg.GapNS
				event(events.TypeDupAck, "", lost, 0, events.SevInfo)
				if seq-lost >= 3*mss {
					send(events.DirC2S, lost, 1, mss, events.FlagACK, win)
					event(events.TypeRetransmission, events.RetransFast, lost, mss, events.SevWarn)
					rec.Retransmitted += mss
					lost = 0
					acked = seq + mss
					send(events.DirS2C, 1, acked, 0, events.FlagACK, win)
				}
				continue
			}
			if i%2 == 1 {
				acked = seq + mss
				send(events.DirS2C, 1, acked, 0, events.FlagACK, win)
				if i%16 == 1 {
					event(events.TypeRTTSample, "", uint32(i), 0, events.SevInfo)
				}
			}
			if cfg.Kernel && i%8 == 0 {
				frame++
				k := &kblock.Record{Kind: kblock.KindProbe, TS: ts, Saddr: cli, Daddr: srv, Sport: cport,
					Dport: cfg.ServerPort, SndCwnd: uint32(cwnd), SRTTus: 120 + uint32(cwnd*3), Comm: cfg.Comm, PID: 4242}
				e = events.Event{Type: events.TypeKernelSample, Frame: frame, TS: events.Timestamp(ts), Flow: flow,
					Src: events.Endpoint(cli, cport), Dst: events.Endpoint(srv, cfg.ServerPort), Kernel: k,
					Context: events.Context{KernelCwnd: k.SndCwnd, KernelSRTTus: k.SRTTus}}
				sink.Event(&e)
				out.Summary.Events[events.TypeKernelSample]++
				if cfg.Comm != "" {
					rec.PID, rec.Comm = 4242, cfg.Comm
				}
			}
			if i == cfg.Packets/3 {
				event(events.TypeOutOfOrder, "", seq, mss, events.SevInfo)
			}
		}
		end := 1 + uint32(cfg.Packets)*mss
		send(events.DirC2S, end, 1, 0, events.FlagFIN|events.FlagACK, win)
		send(events.DirS2C, 1, end+1, 0, events.FlagFIN|events.FlagACK, win)
		send(events.DirC2S, end+1, 2, 0, events.FlagACK, win)
		rec.Last = events.Timestamp(ts)
		rec.DurationMS = float64(int64(rec.Last)-int64(rec.First)) / 1e6
		rec.RTTMinMS, rec.RTTAvgMS, rec.RTTMaxMS = 0.1, 0.15, 0.22
		out.Flows = append(out.Flows, rec)
		cli = cli.Next()
	}
	out.Summary.TCPPackets = uint64(out.Packets)
	out.Summary.Flows = len(out.Flows)
	out.Summary.Input = fmt.Sprintf("synthetic:%d flows", cfg.Flows)
	return out
}
