package events

import "github.com/tcpviz/tcpviz/pcapng/kblock"

// KernelEvent is the one mapping from a kernel record to its event: type,
// severity, ends and the fields the record itself carries. The detectors
// add what needs connection state (relative sequence, ref_frame, context);
// without detectors the pipeline emits it as it is, so the same record gets
// the same type and severity either way.
func KernelEvent(frame uint64, rec *kblock.Record, flow uint64, dir Dir) Event {
	e := Event{Frame: frame, TS: Timestamp(rec.TS), Flow: flow, Dir: dir,
		Src: Endpoint(rec.Saddr, rec.Sport), Dst: Endpoint(rec.Daddr, rec.Dport),
		Severity: SevInfo, Kernel: rec}
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
	return e
}
