package detectors

import (
	"sync"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/conntrack"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// Detector is how an analysis plugs into a run: the pipeline hands it every
// TCP segment, in capture order, with the connection id and direction the
// connection table gave it, and every kernel record; it reports what it
// finds through the emit function it was built with. The built-in engine
// (Engine, registered as "tcp") is one; docs/detectors.md shows how to add
// your own. A detector is used by one goroutine at a time.
//
// Its five methods are declared once, where the pipeline calls them:
//
//	Packet(p *events.Packet)                 // one TCP segment; p valid only during the call
//	Kernel(frame uint64, rec *kblock.Record, flow uint64, dir events.Dir) // flow 0: not in the table
//	Advance(now int64)                       // capture time moves on without a packet
//	Finish()                                 // the input ended: report what is pending
//	CloseFlow(flow uint64, r *events.FlowRecord) // settle the connection, add figures to its record
type Detector = pipeline.Detector

// Factory builds a detector for one run, with the run's thresholds; emit
// hands an event to the pipeline (the pointer is valid only during the
// call).
type Factory func(cfg Config, emit func(*events.Event)) Detector

var registry struct {
	sync.Mutex
	names []string
	new   []Factory
}

// Register adds a detector to every run that builds its detectors with
// NewSet (every tcpviz command). Call it from an init function. Registering
// a name again replaces its factory.
func Register(name string, f Factory) {
	registry.Lock()
	defer registry.Unlock()
	for i, n := range registry.names {
		if n == name {
			registry.new[i] = f
			return
		}
	}
	registry.names = append(registry.names, name)
	registry.new = append(registry.new, f)
}

// Registered returns the names of the registered detectors, in order.
func Registered() []string {
	registry.Lock()
	defer registry.Unlock()
	return append([]string(nil), registry.names...)
}

func init() {
	Register("tcp", func(cfg Config, emit func(*events.Event)) Detector { return New(cfg, emit) })
}

// NewSet builds every registered detector for one run, in the order they
// were registered: each sees every input, in that order.
func NewSet(cfg Config, emit func(*events.Event)) Detector {
	registry.Lock()
	news := append([]Factory(nil), registry.new...)
	registry.Unlock()
	if len(news) == 1 {
		return news[0](cfg, emit)
	}
	s := make(set, len(news))
	for i, f := range news {
		s[i] = f(cfg, emit)
	}
	return s
}

// set runs several detectors as one.
type set []Detector

func (s set) Packet(p *events.Packet) {
	for _, d := range s {
		d.Packet(p)
	}
}

func (s set) Kernel(frame uint64, rec *kblock.Record, flow uint64, dir events.Dir) {
	for _, d := range s {
		d.Kernel(frame, rec, flow, dir)
	}
}

func (s set) Advance(now int64) {
	for _, d := range s {
		d.Advance(now)
	}
}

func (s set) Finish() {
	for _, d := range s {
		d.Finish()
	}
}

// UseTable hands the connection table to the detectors that read it
// (Engine.UseTable).
func (s set) UseTable(t *conntrack.Table) {
	for _, d := range s {
		if u, ok := d.(interface{ UseTable(*conntrack.Table) }); ok {
			u.UseTable(t)
		}
	}
}

func (s set) CloseFlow(flow uint64, r *events.FlowRecord) {
	for _, d := range s {
		d.CloseFlow(flow, r)
	}
}
