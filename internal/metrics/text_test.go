package metrics

import (
	"bytes"
	"compress/gzip"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/monitor"
)

// TestText: the exposition of each metric type, byte for byte, as the
// Prometheus text format 0.0.4 writes it (the texts are what
// client_golang wrote for the same series).
func TestText(t *testing.T) {
	for _, tc := range []struct {
		name string
		reg  func(*Registry)
		want string
	}{
		{"counter without labels", func(r *Registry) {
			c := NewCounterVec("x_total", "Things.")
			c.WithLabelValues().Add(3)
			r.Register(c)
		}, "# HELP x_total Things.\n# TYPE x_total counter\nx_total 3\n"},
		{"labels sorted by name, series by value", func(r *Registry) {
			c := NewCounterVec("x_total", "Things.", "kind", "direction")
			c.WithLabelValues("rto", "s2c").Inc()
			c.WithLabelValues("fast", "s2c").Add(2)
			c.WithLabelValues("fast", "c2s").Add(0.5)
			r.Register(c)
		}, "# HELP x_total Things.\n# TYPE x_total counter\n" +
			`x_total{direction="c2s",kind="fast"} 0.5` + "\n" +
			`x_total{direction="s2c",kind="fast"} 2` + "\n" +
			`x_total{direction="s2c",kind="rto"} 1` + "\n"},
		{"label value and help escaping", func(r *Registry) {
			c := NewCounterVec("x_total", "A \\ back\nslash \"quoted\".", "v")
			c.WithLabelValues("a\"b\\c\nd").Inc()
			c.WithLabelValues("ü\t").Inc()
			r.Register(c)
		}, "# HELP x_total A \\\\ back\\nslash \"quoted\".\n# TYPE x_total counter\n" +
			`x_total{v="a\"b\\c\nd"} 1` + "\n" +
			"x_total{v=\"ü\t\"} 1\n"},
		{"float values", func(r *Registry) {
			r.Register(CollectorFunc(func() []Family {
				f := Family{Name: "g", Help: "G.", Type: TypeGauge}
				for i, v := range []float64{0, 1, -1, 1.2516568e+07, 0.014457736, 9.223372036854776e+18, math.Inf(1), math.Inf(-1), math.NaN(), 1e-7} {
					f.Metrics = append(f.Metrics, Metric{Labels: []Label{{"i", string(rune('a' + i))}}, Value: v})
				}
				return []Family{f}
			}))
		}, "# HELP g G.\n# TYPE g gauge\n" +
			"g{i=\"a\"} 0\ng{i=\"b\"} 1\ng{i=\"c\"} -1\ng{i=\"d\"} 1.2516568e+07\ng{i=\"e\"} 0.014457736\n" +
			"g{i=\"f\"} 9.223372036854776e+18\ng{i=\"g\"} +Inf\ng{i=\"h\"} -Inf\ng{i=\"i\"} NaN\ng{i=\"j\"} 1e-07\n"},
		{"histogram buckets cumulative, a value on a bound in that bucket", func(r *Registry) {
			h := NewHistogramVec("h_seconds", "H.", ExponentialBuckets(50e-6, 2, 3), "service_port")
			for _, v := range []float64{10e-6, 50e-6, 50.1e-6, 0.0002, 7} {
				h.WithLabelValues("443").Observe(v)
			}
			h.WithLabelValues("other")
			r.Register(h)
		}, "# HELP h_seconds H.\n# TYPE h_seconds histogram\n" +
			`h_seconds_bucket{service_port="443",le="5e-05"} 2` + "\n" +
			`h_seconds_bucket{service_port="443",le="0.0001"} 3` + "\n" +
			`h_seconds_bucket{service_port="443",le="0.0002"} 4` + "\n" +
			`h_seconds_bucket{service_port="443",le="+Inf"} 5` + "\n" +
			`h_seconds_sum{service_port="443"} 7.0003101` + "\n" +
			`h_seconds_count{service_port="443"} 5` + "\n" +
			`h_seconds_bucket{service_port="other",le="5e-05"} 0` + "\n" +
			`h_seconds_bucket{service_port="other",le="0.0001"} 0` + "\n" +
			`h_seconds_bucket{service_port="other",le="0.0002"} 0` + "\n" +
			`h_seconds_bucket{service_port="other",le="+Inf"} 0` + "\n" +
			`h_seconds_sum{service_port="other"} 0` + "\n" +
			`h_seconds_count{service_port="other"} 0` + "\n"},
		{"the goodput buckets", func(r *Registry) {
			h := NewHistogramVec("b", "B.", ExponentialBuckets(1e3, 4, 12))
			h.WithLabelValues().Observe(1.8855878889011923e+07)
			r.Register(h)
		}, "# HELP b B.\n# TYPE b histogram\n" +
			"b_bucket{le=\"1000\"} 0\nb_bucket{le=\"4000\"} 0\nb_bucket{le=\"16000\"} 0\nb_bucket{le=\"64000\"} 0\n" +
			"b_bucket{le=\"256000\"} 0\nb_bucket{le=\"1.024e+06\"} 0\nb_bucket{le=\"4.096e+06\"} 0\nb_bucket{le=\"1.6384e+07\"} 0\n" +
			"b_bucket{le=\"6.5536e+07\"} 1\nb_bucket{le=\"2.62144e+08\"} 1\nb_bucket{le=\"1.048576e+09\"} 1\nb_bucket{le=\"4.194304e+09\"} 1\n" +
			"b_bucket{le=\"+Inf\"} 1\nb_sum 1.8855878889011923e+07\nb_count 1\n"},
		{"summary", func(r *Registry) {
			r.Register(CollectorFunc(func() []Family {
				return []Family{{Name: "s_seconds", Help: "S.", Type: TypeSummary, Metrics: []Metric{{
					Quantiles: []Quantile{{0, 0.001}, {0.5, 0.002}, {1, 0.5}}, Count: 3, Sum: 0.503}}}}
			}))
		}, "# HELP s_seconds S.\n# TYPE s_seconds summary\n" +
			"s_seconds{quantile=\"0\"} 0.001\ns_seconds{quantile=\"0.5\"} 0.002\ns_seconds{quantile=\"1\"} 0.5\n" +
			"s_seconds_sum 0.503\ns_seconds_count 3\n"},
		{"families sorted by name, empty ones left out", func(r *Registry) {
			b := NewCounterVec("b_total", "B.", "x")
			b.WithLabelValues("1").Inc()
			a := NewCounterVec("a_total", "A.")
			a.WithLabelValues().Inc()
			r.Register(b, NewCounterVec("empty_total", "E.", "x"), a)
		}, "# HELP a_total A.\n# TYPE a_total counter\na_total 1\n# HELP b_total B.\n# TYPE b_total counter\nb_total{x=\"1\"} 1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRegistry()
			tc.reg(r)
			if got := string(AppendText(nil, r.Gather())); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// TestCounterAdd: whole increments stay exact past 2^53, where a float64
// sum would lose them; fractions are added to the side.
func TestCounterAdd(t *testing.T) {
	for _, tc := range []struct {
		adds []float64
		want float64
	}{
		{[]float64{1 << 53, 1, 1}, 1<<53 + 2},
		{[]float64{0.25, 2, 0.5}, 2.75},
		{nil, 0},
	} {
		var c Counter
		for _, v := range tc.adds {
			c.Add(v)
		}
		if got := c.Value(); got != tc.want {
			t.Errorf("adds %v: %v, want %v", tc.adds, got, tc.want)
		}
	}
}

// TestHandler: the content type, gzip when the scraper accepts it, and the
// same text either way.
func TestHandler(t *testing.T) {
	r := NewRegistry()
	c := NewCounterVec("x_total", "X.")
	c.WithLabelValues().Inc()
	r.Register(c)
	srv := httptest.NewServer(Handler(r))
	defer srv.Close()
	want := "# HELP promhttp_metric_handler_errors_total Total number of internal errors encountered by the promhttp metric handler.\n" +
		"# TYPE promhttp_metric_handler_errors_total counter\n" +
		"promhttp_metric_handler_errors_total{cause=\"encoding\"} 0\npromhttp_metric_handler_errors_total{cause=\"gathering\"} 0\n" +
		"# HELP x_total X.\n# TYPE x_total counter\nx_total 1\n"
	for _, tc := range []struct {
		accept string
		gzip   bool
	}{
		{"", false},
		{"gzip", true},
		{"identity, gzip;q=0.5", true},
		{"gzip;q=0", false},
		{"br", false},
	} {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Header.Set("Accept-Encoding", tc.accept)
		resp, err := http.DefaultTransport.RoundTrip(req) // no transparent decompression
		if err != nil {
			t.Fatal(err)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		var body io.Reader = resp.Body
		if got := resp.Header.Get("Content-Encoding") == "gzip"; got != tc.gzip {
			t.Errorf("Accept-Encoding %q: gzip %v, want %v", tc.accept, got, tc.gzip)
		} else if got {
			if body, err = gzip.NewReader(resp.Body); err != nil {
				t.Fatal(err)
			}
		}
		b, _ := io.ReadAll(body)
		resp.Body.Close()
		if string(b) != want {
			t.Errorf("Accept-Encoding %q: body\n%s\nwant\n%s", tc.accept, b, want)
		}
	}
}

// knownLints are promtool's remarks on names that stay as they are:
// dashboards and alert rules use them.
var knownLints = []string{
	`tcpviz_goodput_bits_per_second use base unit "bytes" instead of "bits"`,
}

// TestPromtoolChecksScrape: promtool parses and lints everything a monitor
// serves (traffic from a lossy sample, the monitor's health, go_* and
// process_*, label values that need escaping).
func TestPromtoolChecksScrape(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian package prometheus; .ci/run installs it)")
	}
	reg, _ := run(t, "../../samples/bbr-loss-sender.pcapng", []uint16{5001})
	reg.Register(NewHealth(func() monitor.Summary {
		return monitor.Summary{Files: 2, Packets: 10, CaughtUp: time.Now(), LastPacket: 1796135060082386000,
			Alerts: map[string]int{"WARN": 1}}
	}), Runtime{})
	odd := NewCounterVec("tcpviz_test_escaping_total", "Label values \\ with \"quotes\"\nand lines.", "v")
	odd.WithLabelValues("a\"b\\c\nd").Inc()
	reg.Register(odd)
	text := AppendText(nil, reg.Gather())
	names := []string{"tcpviz_rtt_seconds_bucket", "tcpviz_monitor_files_read_total", "go_goroutines"}
	if runtime.GOOS == "linux" {
		names = append(names, "process_cpu_seconds_total", "process_open_fds")
	}
	for _, name := range names {
		if !bytes.Contains(text, []byte("\n"+name)) {
			t.Errorf("no %s in the scrape", name)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(text)
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		known := line == ""
		for _, k := range knownLints {
			known = known || line == k
		}
		if !known {
			t.Errorf("promtool check metrics: %s", line)
		}
	}
	if ee, ok := err.(*exec.ExitError); err != nil && !(ok && ee.ExitCode() == 3) {
		// 3 is lint remarks only (checked above); anything else is a
		// text the parser rejects.
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
