package events

import "testing"

func TestLimitVerdict(t *testing.T) {
	tests := []struct {
		name      string
		l         *DirLimits
		label     string
		sentence  string
		dominant  string
		shareWant float64
	}{
		{"receiver window from the kernel",
			&DirLimits{Source: LimitSourceKernel, Seconds: LimitSeconds{Rwnd: 2.44, Cwnd: 1.2, App: 0.36}, MaxWindow: 16384,
				GoodputAvgBps: 2.5e6, GoodputPeakBps: 4e6, Packets: &PacketLimits{Agreement: 0.83}},
			"rwnd 61%",
			"61 % of 4.0 s limited by the receiver's window (at most 16 KiB advertised): the receiver is not reading fast enough or its buffer is too small; goodput 2.5 Mbit/s average, 4.0 Mbit/s peak (kernel accounting; packets agree 83 % of the time)",
			LimitRwnd, 0.61},
		{"application, inferred",
			&DirLimits{Source: LimitSourcePackets, Seconds: LimitSeconds{App: 0.9, Cwnd: 0.1}, MaxWindow: -1},
			"~app 90%",
			"90 % of 1.0 s with nothing to send: the sending application wrote slower than the connection could carry (inferred from packets)",
			LimitApp, 0.9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.l.Dominant, _ = tt.l.Seconds.Dominant()
			if share := tt.l.Seconds.Share(); tt.l.Dominant != tt.dominant || share < tt.shareWant-1e-9 || share > tt.shareWant+1e-9 {
				t.Errorf("dominant %s %.3f, want %s %.3f", tt.l.Dominant, share, tt.dominant, tt.shareWant)
			}
			if got := tt.l.Label(); got != tt.label {
				t.Errorf("label %q, want %q", got, tt.label)
			}
			if got := tt.l.Sentence(); got != tt.sentence {
				t.Errorf("sentence\n got %q\nwant %q", got, tt.sentence)
			}
		})
	}
}

func TestMainLimits(t *testing.T) {
	c2s := DirLimits{Source: LimitSourcePackets, Dominant: LimitApp}
	s2c := DirLimits{Source: LimitSourcePackets, Dominant: LimitCwnd}
	r := &FlowRecord{BytesC2S: 100, BytesS2C: 5000, Limits: FlowLimits{C2S: c2s, S2C: s2c}}
	if l, d := r.MainLimits(); l != &r.Limits.S2C || d != DirS2C {
		t.Errorf("main limits %v %v, want the s2c direction that carried more", l, d)
	}
	r.Limits.S2C = DirLimits{}
	if l, d := r.MainLimits(); l != &r.Limits.C2S || d != DirC2S {
		t.Errorf("main limits %v %v, want c2s", l, d)
	}
	r.Limits.C2S = DirLimits{}
	if l, _ := r.MainLimits(); l != nil {
		t.Errorf("main limits %v, want none", l)
	}
}

func TestWorstKeepsLongestHeld(t *testing.T) {
	mk := func(id uint64, held, app float64) FlowRecord {
		l := DirLimits{Source: LimitSourcePackets, Seconds: LimitSeconds{Cwnd: held, App: app}}
		l.Dominant, _ = l.Seconds.Dominant()
		return FlowRecord{Flow: id, BytesC2S: 1, Limits: FlowLimits{C2S: l}}
	}
	flows := []FlowRecord{mk(1, 1, 0), mk(2, 5, 0), mk(3, 0, 9), mk(4, 3, 1), mk(5, 5, 1), mk(6, 0.5, 0)}
	got := WorstLimits(flows, 3)
	var ids []uint64
	for _, v := range got {
		ids = append(ids, v.Flow)
	}
	if len(ids) != 3 || ids[0] != 2 || ids[1] != 5 || ids[2] != 4 {
		t.Errorf("worst %v, want [2 5 4] (held 5, 5, 3; app-only flow 3 never)", ids)
	}
}
