package monitor

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/events"
)

// ev makes a detector event of flow at t seconds after t0.
func ev(typ string, flow uint64, sec float64) *events.Event {
	return &events.Event{Type: typ, Flow: flow, TS: events.Timestamp(t0 + int64(sec*1e9)),
		Src: fmt.Sprintf("10.0.0.1:%d", 40000+flow), Dst: "10.0.0.2:5201", Dir: events.DirC2S, Frame: uint64(sec * 10)}
}

func unconfirmed(e *events.Event) *events.Event { e.Confirmed = events.False; return e }
func confirmed(e *events.Event) *events.Event   { e.Confirmed = events.True; return e }

func TestWindowAlerts(t *testing.T) {
	type step struct {
		ev      *events.Event // nil: advance to at
		at      float64
		want    string // alerts raised by this step, "" for none
		flows   int    // connections kept after the step (-1: not checked)
		retrans int    // total retransmissions in the window (-1: not checked)
	}
	th := Thresholds{Retransmission: 3, Loss: 2, OutOfOrder: 0, Reordering: 2, CriticalFactor: 2}
	cases := []struct {
		name  string
		steps []step
	}{
		{"warn, critical once each, then recovered", []step{
			{ev: ev("retransmission", 1, 1), want: "", flows: 1, retrans: 1},
			{ev: ev("retransmission", 1, 2), want: ""},
			{ev: ev("retransmission", 1, 3), want: "WARN retransmission flow 1 count 3 th 3"},
			{ev: ev("retransmission", 1, 4), want: ""},
			{ev: ev("retransmission", 1, 5), want: ""},
			{ev: ev("retransmission", 1, 6), want: "CRITICAL retransmission flow 1 count 6 th 6", retrans: 6},
			{ev: ev("retransmission", 1, 7), want: "", retrans: 7},
			// 10 s window: at 14.5 the events of 1..4 are out (3 left).
			{at: 14.5, want: "", retrans: 3, flows: 1},
			{at: 15.5, want: "RECOVERED retransmission flow 1 count 2 th 3", retrans: 2},
			{at: 30, want: "", flows: 0, retrans: 0},
		}},
		{"loss counts loss_infer and lost_segment; other kinds and disabled kinds are silent", []step{
			{ev: ev("loss_infer", 2, 1), want: ""},
			{ev: ev("out_of_order", 2, 1.5), want: ""},
			{ev: ev("dup_ack", 2, 1.6), want: ""},
			{ev: ev("lost_segment", 2, 2), want: "WARN loss flow 2 count 2 th 2"},
			{ev: ev("loss_infer", 3, 2.5), want: "", flows: 2},
			{ev: ev("lost_segment", 2, 3), want: ""},
			{ev: ev("lost_segment", 2, 4), want: "CRITICAL loss flow 2 count 4 th 4"},
			{at: 13.5, want: "RECOVERED loss flow 2 count 1 th 2"},
		}},
		{"an unconfirmed loss_infer is not loss; reordering counts on its own", []step{
			{ev: unconfirmed(ev("loss_infer", 5, 1)), want: ""},
			{ev: unconfirmed(ev("loss_infer", 5, 1.5)), want: ""},
			{ev: unconfirmed(ev("loss_infer", 5, 1.6)), want: ""},
			{ev: ev("reordering", 5, 2), want: ""},
			{ev: ev("reordering", 5, 2.5), want: "WARN reordering flow 5 count 2 th 2"},
			{ev: confirmed(ev("loss_infer", 5, 3)), want: ""},
			{ev: confirmed(ev("loss_infer", 5, 3.5)), want: "WARN loss flow 5 count 2 th 2"},
		}},
		{"a level is not raised again until recovered", []step{
			{ev: ev("retransmission", 4, 1), want: ""},
			{ev: ev("retransmission", 4, 2), want: ""},
			{ev: ev("retransmission", 4, 3), want: "WARN retransmission flow 4 count 3 th 3"},
			{ev: ev("retransmission", 4, 3.5), want: ""},
			{ev: ev("retransmission", 4, 11.5), want: ""}, // 1 left the window: 2, 3, 3.5, 11.5, still warned
			// At 13.2 only 3.5 and 11.5 are left before the new event: recovered, and warned again.
			{ev: ev("retransmission", 4, 13.2), want: "RECOVERED retransmission flow 4 count 2 th 3; WARN retransmission flow 4 count 3 th 3"},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			w := NewWindow(10*time.Second, th, func(a *Alert) {
				got = append(got, fmt.Sprintf("%s %s flow %d count %d th %d", a.Level, a.Kind, a.Flow, a.Count, a.Threshold))
			})
			for i, s := range c.steps {
				got = got[:0]
				if s.ev != nil {
					w.Add(s.ev, "f.pcapng")
				} else {
					w.Advance(t0 + int64(s.at*1e9))
				}
				want := []string{}
				if s.want != "" {
					want = strings.Split(s.want, "; ")
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("step %d: alerts %q, want %q", i, got, want)
				}
				if s.flows != 0 && s.flows != -1 || (s.flows == 0 && s.at >= 30) {
					if w.Flows() != s.flows {
						t.Errorf("step %d: %d flows kept, want %d", i, w.Flows(), s.flows)
					}
				}
				if s.retrans > 0 || (s.retrans == 0 && s.at >= 30) {
					if n := w.Total(KindRetransmission); n != s.retrans {
						t.Errorf("step %d: %d retransmissions in window, want %d", i, n, s.retrans)
					}
				}
			}
		})
	}
}

func TestWindowAlertFields(t *testing.T) {
	var got []Alert
	w := NewWindow(time.Minute, Thresholds{Retransmission: 1, CriticalFactor: 5}, func(a *Alert) { got = append(got, *a) })
	e := ev("retransmission", 9, 1)
	e.Dir = events.DirS2C // sent by the server: the client is the destination
	e.Src, e.Dst = "10.0.0.2:5201", "10.0.0.1:40009"
	e.Context = events.Context{BytesInFlight: 14480, KernelCwnd: 7, KernelSRTTus: 25300, SRTTms: 24}
	w.Add(e, "/cap/ring_00003_20261123093000.pcapng")
	if len(got) != 1 {
		t.Fatalf("%d alerts, want 1", len(got))
	}
	a := got[0]
	want := Alert{Time: e.TS, Level: LevelWarn, Kind: "retransmission", Count: 1, Threshold: 1, WindowS: 60, Flow: 9,
		Client: "10.0.0.1:40009", Server: "10.0.0.2:5201", File: "/cap/ring_00003_20261123093000.pcapng", Frame: 10,
		KernelCwnd: 7, KernelSRTTms: 25.3, SRTTms: 24, BytesInFlight: 14480, Since: e.TS}
	if a != want {
		t.Errorf("alert\n got %+v\nwant %+v", a, want)
	}
	line := string(FormatAlert(nil, &a, false))
	wantLine := "2026-11-23T09:30:01.000Z WARN      10.0.0.1:40009 -> 10.0.0.2:5201 retransmission 1 in 60s (threshold 1)  cwnd 7 srtt 25.3ms in flight 14480 B  [ring_00003_20261123093000.pcapng frame 10]"
	if line != wantLine {
		t.Errorf("line\n got %q\nwant %q", line, wantLine)
	}
	colored := string(FormatAlert(nil, &a, true))
	if colored == line || colored[25:30] != colorYellow {
		t.Errorf("coloured line %q: want the level in yellow", colored)
	}
}

func TestWindowMemoryBounded(t *testing.T) {
	w := NewWindow(time.Minute, DefaultThresholds(), nil)
	// 100,000 retransmissions in one minute on one flow, then a quiet hour.
	for i := 0; i < 100000; i++ {
		w.Add(&events.Event{Type: "retransmission", Flow: 1, TS: events.Timestamp(t0 + int64(i)*600e3)}, "")
	}
	f := w.flows[1]
	if n := len(f.c[KindRetransmission].b); n > 70 {
		t.Errorf("%d buckets kept for one counter, want at most about 64", n)
	}
	if c := f.c[KindRetransmission].n; c < 99000 {
		t.Errorf("count %d, want about 100000", c)
	}
	// 100,000 short flows with one event each are forgotten once quiet.
	for i := 0; i < 100000; i++ {
		w.Add(&events.Event{Type: "out_of_order", Flow: uint64(10 + i), TS: events.Timestamp(t0 + 60e9 + int64(i)*100e3)}, "")
	}
	w.Advance(t0 + 3600e9)
	if w.Flows() != 0 {
		t.Errorf("%d flows kept after a quiet hour, want 0", w.Flows())
	}
}

// TestAlertmanagerShape: WARN and RECOVERED of one connection carry the
// same labels, startsAt is the start of the alert on both, endsAt only on
// RECOVERED, the link points at the capture file and frame, and the line
// reads back into the alert.
func TestAlertmanagerShape(t *testing.T) {
	var got []Alert
	w := NewWindow(time.Minute, Thresholds{Retransmission: 2, CriticalFactor: 2}, func(a *Alert) { got = append(got, *a) })
	for i := 1; i <= 4; i++ {
		w.Add(ev("retransmission", 3, float64(i)/10), "/cap/ring 1.pcapng")
	}
	w.Advance(int64(ev("retransmission", 3, 0.4).TS) + int64(2*time.Minute))
	if len(got) != 3 || got[0].Level != LevelWarn || got[1].Level != LevelCritical || got[2].Level != LevelRecovered {
		t.Fatalf("alerts %+v, want WARN, CRITICAL, RECOVERED", got)
	}
	var am []AlertmanagerAlert
	for i := range got {
		a := got[i].Alertmanager("web-1")
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseAlertmanager(b)
		if err != nil {
			t.Fatal(err)
		}
		if back != got[i] {
			t.Errorf("round trip\n got %+v\nwant %+v", back, got[i])
		}
		var raw map[string]any
		json.Unmarshal(b, &raw)
		for _, k := range []string{"labels", "annotations", "startsAt"} {
			if raw[k] == nil {
				t.Errorf("line %s: no %s", b, k)
			}
		}
		am = append(am, a)
	}
	warn, crit, rec := am[0], am[1], am[2]
	if warn.StartsAt != rfc3339(got[0].Time) || crit.StartsAt != warn.StartsAt || rec.StartsAt != warn.StartsAt {
		t.Errorf("startsAt %s %s %s, want all %s", warn.StartsAt, crit.StartsAt, rec.StartsAt, rfc3339(got[0].Time))
	}
	if warn.EndsAt != "" || crit.EndsAt != "" || rec.EndsAt != rfc3339(got[2].Time) {
		t.Errorf("endsAt %q %q %q", warn.EndsAt, crit.EndsAt, rec.EndsAt)
	}
	if rec.Labels["severity"] != "critical" || !maps.Equal(rec.Labels, crit.Labels) {
		t.Errorf("RECOVERED labels %v, want the CRITICAL alert's %v", rec.Labels, crit.Labels)
	}
	if warn.Labels["alertname"] != "TCPRetransmissions" || warn.Labels["host"] != "web-1" || warn.Labels["severity"] != "warning" {
		t.Errorf("labels %v", warn.Labels)
	}
	if warn.GeneratorURL != "file:///cap/ring%201.pcapng#frame=2" || rec.GeneratorURL != "" {
		t.Errorf("generatorURL %q / %q", warn.GeneratorURL, rec.GeneratorURL)
	}
}
