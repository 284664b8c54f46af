package monitor

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"time"

	"github.com/tcpviz/tcpviz/events"
)

// AlertmanagerAlert is an alert in the shape Alertmanager's API takes
// (POST /api/v2/alerts), so `monitor --json` lines can be posted as they
// are. Labels identify the alert: the same connection and kind give the
// same labels from its WARN to its RECOVERED line.
type AlertmanagerAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt,omitempty"` // on RECOVERED only
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Alert names by kind, as they appear in the alertname label.
var alertNames = [numKinds]string{"TCPRetransmissions", "TCPLoss", "TCPOutOfOrder"}

func severity(l Level) string {
	if l == LevelCritical {
		return "critical"
	}
	return "warning"
}

func rfc3339(ts events.Timestamp) string { return ts.Time().Format(time.RFC3339Nano) }

// Alertmanager converts a into Alertmanager's shape; host is the host
// label (the machine whose captures are followed).
func (a *Alert) Alertmanager(host string) AlertmanagerAlert {
	lvl := a.Level
	if lvl == LevelRecovered {
		lvl = a.From
	}
	name := a.Kind
	if k, ok := kindByName(a.Kind); ok {
		name = alertNames[k]
	}
	out := AlertmanagerAlert{
		Labels: map[string]string{"alertname": name, "kind": a.Kind, "severity": severity(lvl),
			"flow": strconv.FormatUint(a.Flow, 10), "client": a.Client, "server": a.Server},
		Annotations: map[string]string{
			"summary": fmt.Sprintf("%s: %d %s in %gs on %s -> %s (threshold %d)", a.Level, a.Count, a.Kind, a.WindowS,
				a.Client, a.Server, a.Threshold),
			"level": a.Level.String(), "time": rfc3339(a.Time), "count": strconv.Itoa(a.Count),
			"threshold": strconv.Itoa(a.Threshold), "window_s": strconv.FormatFloat(a.WindowS, 'g', -1, 64)},
	}
	if host != "" {
		out.Labels["host"] = host
	}
	ann := out.Annotations
	if a.File != "" {
		ann["capture_file"] = a.File
		ann["frame"] = strconv.FormatUint(a.Frame, 10)
		abs := a.File
		if p, err := filepath.Abs(a.File); err == nil {
			abs = p
		}
		u := url.URL{Scheme: "file", Path: abs, Fragment: "frame=" + strconv.FormatUint(a.Frame, 10)}
		out.GeneratorURL = u.String()
	}
	if a.KernelCwnd != 0 {
		ann["kernel_cwnd"] = strconv.FormatUint(uint64(a.KernelCwnd), 10)
	}
	if a.KernelSRTTms != 0 {
		ann["kernel_srtt_ms"] = strconv.FormatFloat(a.KernelSRTTms, 'g', -1, 64)
	}
	if a.SRTTms != 0 {
		ann["srtt_ms"] = strconv.FormatFloat(a.SRTTms, 'g', -1, 64)
	}
	if a.BytesInFlight != 0 {
		ann["bytes_in_flight"] = strconv.FormatInt(a.BytesInFlight, 10)
	}
	start := a.Since
	if start == 0 {
		start = a.Time
	}
	out.StartsAt = rfc3339(start)
	if a.Level == LevelRecovered {
		out.EndsAt = rfc3339(a.Time)
	}
	return out
}

func kindByName(s string) (Kind, bool) {
	for k := Kind(0); k < numKinds; k++ {
		if k.String() == s {
			return k, true
		}
	}
	return 0, false
}

// ParseAlertmanager reads a `monitor --json` line back into an Alert.
func ParseAlertmanager(b []byte) (Alert, error) {
	var am AlertmanagerAlert
	if err := json.Unmarshal(b, &am); err != nil {
		return Alert{}, err
	}
	l, ann := am.Labels, am.Annotations
	var a Alert
	var errs []error
	num := func(s string, bits int) uint64 {
		if s == "" {
			return 0
		}
		v, err := strconv.ParseUint(s, 10, bits)
		if err != nil {
			errs = append(errs, err)
		}
		return v
	}
	flt := func(s string) float64 {
		if s == "" {
			return 0
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			errs = append(errs, err)
		}
		return v
	}
	ts := func(s string) events.Timestamp {
		if s == "" {
			return 0
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			errs = append(errs, err)
		}
		return events.Timestamp(t.UnixNano())
	}
	if err := a.Level.UnmarshalText([]byte(ann["level"])); err != nil {
		return a, err
	}
	a.Kind, a.Client, a.Server = l["kind"], l["client"], l["server"]
	a.Flow = num(l["flow"], 64)
	a.Time, a.Count, a.Threshold = ts(ann["time"]), int(num(ann["count"], 31)), int(num(ann["threshold"], 31))
	a.WindowS = flt(ann["window_s"])
	a.File, a.Frame = ann["capture_file"], num(ann["frame"], 64)
	a.KernelCwnd = uint32(num(ann["kernel_cwnd"], 32))
	a.KernelSRTTms, a.SRTTms = flt(ann["kernel_srtt_ms"]), flt(ann["srtt_ms"])
	a.BytesInFlight = int64(num(ann["bytes_in_flight"], 63))
	a.Since = ts(am.StartsAt)
	if a.Level == LevelRecovered {
		a.From = LevelWarn
		if l["severity"] == "critical" {
			a.From = LevelCritical
		}
	}
	if len(errs) > 0 {
		return a, fmt.Errorf("alert %s: %v", b, errs[0])
	}
	return a, nil
}
