package events

import "github.com/tcpviz/tcpviz/pcapng/kblock"

// KernelEvent is the one mapping from a kernel record to its event: type,
// severity, ends and the fields the record itself carries. The detectors
// add what needs connection state (relative sequence, ref_frame, context);
// without detectors the pipeline emits it as it is, so the same record gets
// the same type and severity either way.
func KernelEvent(frame uint64, rec *kblock.Record, flow uint64, dir Dir) Event {
	var e Event
	e.SetKernel(frame, rec, flow, dir, Endpoint(rec.Saddr, rec.Sport), Endpoint(rec.Daddr, rec.Dport))
	return e
}

// SetKernel fills the zero event e as KernelEvent builds it, with src and
// dst the text of Endpoint(rec.Saddr, rec.Sport) and Endpoint(rec.Daddr,
// rec.Dport) (a connection's own, which it keeps, rather than new strings
// for each record).
func (e *Event) SetKernel(frame uint64, rec *kblock.Record, flow uint64, dir Dir, src, dst string) {
	e.Frame, e.TS, e.Flow, e.Dir, e.Src, e.Dst = frame, Timestamp(rec.TS), flow, dir, src, dst
	e.Severity, e.Kernel = SevInfo, rec
	switch rec.Kind {
	case kblock.KindProbe:
		e.Type = TypeKernelSample
	case kblock.KindRetransmit:
		e.Type, e.Severity = TypeKernelRetransmit, SevWarn
		e.Len = rec.EndSeq - rec.Seq
		e.Cause = kblock.RetransCause(rec)
	case kblock.KindState:
		e.Type = TypeKernelState
		e.Note = kblock.StateName(rec.OldState) + " -> " + kblock.StateName(rec.NewState)
	default:
		e.Type, e.Severity = TypeKernelReset, SevWarn
	}
}
