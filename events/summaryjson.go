package events

import (
	"bytes"
	"encoding/json"
	"math"
)

// IndentJSON returns summary.json's bytes: what json.MarshalIndent(s, "",
// "  ") writes. The object is built by AppendJSON and indented by
// json.Indent: encoding/json's reflection built its encoders for the
// summary's types in every run, more instructions than a parse of a small
// capture.
func (s *Summary) IndentJSON() ([]byte, error) {
	if !s.finite() {
		// encoding/json refuses NaN and infinities: the same error as before.
		return json.MarshalIndent(s, "", "  ")
	}
	var out bytes.Buffer
	if err := json.Indent(&out, s.AppendJSON(nil), "", "  "); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// AppendJSON appends s as one JSON object, the bytes encoding/json writes for
// a Summary whose figures are finite (see IndentJSON).
func (s *Summary) AppendJSON(b []byte) []byte {
	b = fI64(b, `{"schema":`, int64(s.Schema))
	b = fStr(b, `,"tool":`, s.Tool)
	b = fStr(b, `,"input":`, s.Input)
	if len(s.Inputs) > 0 {
		b = appendStrings(append(b, `,"inputs":`...), s.Inputs)
	}
	b = fI64(b, `,"input_bytes":`, s.InputBytes)
	b = fStr(b, `,"format":`, s.Format)
	b = fTS(b, `,"started":`, s.Started)
	b = fF64(b, `,"seconds":`, s.Seconds)
	b = fF64(b, `,"packets_per_sec":`, s.PacketsPerSec)
	b = fU64(b, `,"frames":`, s.Frames)
	b = fU64(b, `,"packets":`, s.Packets)
	b = fU64(b, `,"tcp_packets":`, s.TCPPackets)
	b = fU64(b, `,"kernel_records":`, s.KernelRecords)
	b = appendCounts(append(b, `,"skipped":`...), s.Skipped)
	b = fI64(b, `,"flows":`, int64(s.Flows))
	b = appendCounts(append(b, `,"events":`...), s.Events)
	if s.FirstPacket != 0 {
		b = fTS(b, `,"first_packet":`, s.FirstPacket)
	}
	if s.LastPacket != 0 {
		b = fTS(b, `,"last_packet":`, s.LastPacket)
	}
	if len(s.Warnings) > 0 {
		b = appendStrings(append(b, `,"warnings":`...), s.Warnings)
	}
	if s.KernelRetrans != nil {
		b = appendRetransCheck(append(b, `,"kernel_retrans":`...), s.KernelRetrans)
	}
	if k := s.KernelLimits; k != nil {
		b = fI64(b, `,"kernel_limits":{"directions":`, int64(k.Directions))
		b = fI64(b, `,"same_dominant":`, int64(k.SameDominant))
		b = fF64(b, `,"agreement":`, k.Agreement)
		b = append(b, '}')
	}
	if len(s.Limits) > 0 {
		b = append(b, `,"limits":[`...)
		for i := range s.Limits {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendVerdict(b, &s.Limits[i])
		}
		b = append(b, ']')
	}
	if s.ZeroWindowMS != 0 {
		b = fF64(b, `,"zero_window_ms":`, s.ZeroWindowMS)
	}
	if s.ZeroWindowFlows != 0 {
		b = fI64(b, `,"zero_window_flows":`, int64(s.ZeroWindowFlows))
	}
	b = appendStrings(append(b, `,"files":`...), s.Files)
	return append(b, '}')
}

// appendVerdict writes v as encoding/json does.
func appendVerdict(b []byte, v *Verdict) []byte {
	b = fU64(b, `{"flow":`, v.Flow)
	b = fStr(b, `,"client":`, v.Client)
	b = fStr(b, `,"server":`, v.Server)
	b = fStr(b, `,"dir":`, v.Dir.String())
	b = fStr(b, `,"limit":`, v.Limit)
	b = fF64(b, `,"share":`, v.Share)
	b = fStr(b, `,"source":`, v.Source)
	b = fF64(b, `,"held_s":`, v.HeldS)
	b = fStr(b, `,"why":`, v.Sentence)
	if v.Problem != "" {
		b = fStr(b, `,"problem":`, v.Problem)
	}
	return append(b, '}')
}

// appendStrings writes a list of strings as encoding/json does (null for a
// nil one).
func appendStrings(b []byte, l []string) []byte {
	if l == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonString(b, s)
	}
	return append(b, ']')
}

// finite reports whether every figure of s is a number encoding/json writes.
func (s *Summary) finite() bool {
	f := []float64{s.Seconds, s.PacketsPerSec, s.ZeroWindowMS}
	if k := s.KernelRetrans; k != nil {
		f = append(f, k.Precision, k.Recall, k.KernelSRTTP50MS, k.InferredSRTTP50MS, k.InferredRTTP50MS)
	}
	if s.KernelLimits != nil {
		f = append(f, s.KernelLimits.Agreement)
	}
	for i := range s.Limits {
		f = append(f, s.Limits[i].Share, s.Limits[i].HeldS)
	}
	for _, x := range f {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}
