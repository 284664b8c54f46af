// Package pairing compares two captures of the same TCP connections taken
// at two points of their path (say one on the sending host and one on the
// receiving host). It matches the connections by 4-tuple and initial
// sequence numbers (by the sequence numbers alone when a NAT rewrote the
// tuple), matches every segment of one capture with the same transmission in
// the other, and gives per direction the one-way delay of each segment that
// crossed and the segments that were sent but never arrived: the losses
// between the two capture points.
//
// The captures are read through the one pipeline every command uses
// (internal/pipeline); a Recorder is the sink that keeps the few fields per
// segment the matching needs.
package pairing

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/driver"
	"github.com/tcpviz/tcpviz/internal/pipeline"
)

// DefaultLimit bounds the segments one capture keeps (40 bytes each, so 2M
// segments are 80 MB). A capture with more is paired up to the
// bound and the result says it is incomplete.
const DefaultLimit = 2_000_000

// Segment is one TCP segment as one capture saw it: what tells a
// transmission apart from another one of the same bytes.
type Segment struct {
	Frame  uint64 // the capture's frame number (Wireshark's)
	TS     int64  // capture time, ns since the Unix epoch
	Seq    uint32 // raw sequence number
	Ack    uint32
	Len    uint32 // payload bytes
	Flags  uint16
	Window uint16
	IPID   uint16 // IPv4 identification, 0 for IPv6
	HasTS  bool   // the TCP timestamp option was present
	TSVal  uint32
}

// data reports whether the segment carries sequence space (payload, SYN or
// FIN): what a loss of it costs the sender a retransmission.
func (s *Segment) data() bool {
	return s.Len > 0 || s.Flags&(events.FlagSYN|events.FlagFIN) != 0
}

// Conn is one connection as one capture saw it.
type Conn struct {
	Flow           uint64 // the capture's connection id (flow N in its report)
	Client, Server netip.AddrPort
	// ISN per direction, from the SYN (c2s) and the SYN/ACK (s2c); HasISN
	// is false when the handshake was not captured.
	ISN    [2]uint32
	HasISN [2]bool
	Segs   [2][]Segment // per direction, in capture order
	// Handshake times: the first SYN, the first SYN/ACK and the client's
	// first ACK of it (0 when not seen). They say which capture point is
	// nearer the client (see nearClient).
	synTS, synAckTS, ackTS int64
}

// Capture is every connection of one capture, in order of first packet.
type Capture struct {
	Name      string
	Conns     []*Conn
	Segments  int    // segments kept
	Truncated bool   // more segments than the limit: the rest were not kept
	Drops     uint64 // packets the capture itself reported dropping
}

// Recorder is a pipeline sink that keeps every connection's segments.
type Recorder struct {
	c      Capture
	limit  int
	byFlow map[uint64]*Conn
}

// NewRecorder returns a recorder that keeps at most limit segments (0:
// DefaultLimit).
func NewRecorder(name string, limit int) *Recorder {
	if limit <= 0 {
		limit = DefaultLimit
	}
	return &Recorder{c: Capture{Name: name}, limit: limit, byFlow: make(map[uint64]*Conn)}
}

// Packet keeps p's matching fields.
func (r *Recorder) Packet(p *events.Packet) {
	if p.Flow == 0 {
		return
	}
	c := r.byFlow[p.Flow]
	if c == nil {
		c = &Conn{Flow: p.Flow}
		src, dst := netip.AddrPortFrom(p.Src, p.SrcPort), netip.AddrPortFrom(p.Dst, p.DstPort)
		if p.Dir == events.DirC2S {
			c.Client, c.Server = src, dst
		} else {
			c.Client, c.Server = dst, src
		}
		r.byFlow[p.Flow] = c
		r.c.Conns = append(r.c.Conns, c)
	}
	d := p.Dir
	syn := p.Flags&events.FlagSYN != 0
	ack := p.Flags&events.FlagACK != 0
	switch {
	case syn && !ack && d == events.DirC2S:
		if c.synTS == 0 {
			c.synTS = p.TS
		}
		c.ISN[d], c.HasISN[d] = p.Seq, true
	case syn && ack && d == events.DirS2C:
		if c.synAckTS == 0 {
			c.synAckTS = p.TS
		}
		c.ISN[d], c.HasISN[d] = p.Seq, true
	case !syn && d == events.DirC2S && c.ackTS == 0 && c.synAckTS != 0 && c.HasISN[events.DirS2C] && p.Ack == c.ISN[events.DirS2C]+1:
		c.ackTS = p.TS
	}
	if r.c.Segments >= r.limit {
		r.c.Truncated = true
		return
	}
	r.c.Segments++
	c.Segs[d] = append(c.Segs[d], Segment{Frame: p.Frame, TS: p.TS, Seq: p.Seq, Ack: p.Ack, Len: p.Len,
		Flags: p.Flags, Window: p.Window, IPID: p.IPID, HasTS: p.Options.HasTS, TSVal: p.Options.TSVal})
}

// Event is part of pipeline.Sink; pairing needs no detector events.
func (r *Recorder) Event(*events.Event) {}

// Capture returns what was recorded.
func (r *Recorder) Capture() *Capture { return &r.c }

// SetDrops records the packets the capture reported dropping (the
// pipeline's CaptureDrops): a drop in the downstream capture looks like a
// loss on the path.
func (r *Recorder) SetDrops(n uint64) { r.c.Drops = n }

// Read runs the capture at path (a file, a directory or a glob of rotated
// files, as every command takes them) through a pipeline configured by cfg
// and returns its segments. cfg is usually the bare conntrack configuration:
// pairing needs no detectors.
func Read(ctx context.Context, path string, cfg pipeline.Config, limit int) (*Capture, error) {
	rec := NewRecorder(path, limit)
	run, err := driver.Run(ctx, driver.Source{Path: path, Pipeline: cfg}, rec)
	if err != nil {
		return nil, fmt.Errorf("pairing: %w", err)
	}
	rec.SetDrops(run.Stats.CaptureDrops)
	return rec.Capture(), nil
}
