package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// freePort returns a loopback address nobody listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestPrometheusScrapesMonitor: a real Prometheus server, started here on
// loopback with the shipped alert rules, scrapes `tcpviz monitor
// --metrics-addr` while the monitor follows a lossy lab capture (BBR through
// a 2 % loss bottleneck) as it is being written, and the retransmission
// ratio rule fires. The rules' `for:` durations are set to 0 so the test
// does not wait ten minutes; the expressions are the shipped ones.
func TestPrometheusScrapesMonitor(t *testing.T) {
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus not installed (Debian package prometheus; .ci/run installs it)")
	}
	tmp := t.TempDir()
	rules, err := os.ReadFile("../../docs/prometheus/tcpviz-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	rules = regexp.MustCompile(`(?m)^(\s+for:) \S+$`).ReplaceAll(rules, []byte("$1 0s"))
	if err := os.WriteFile(filepath.Join(tmp, "rules.yml"), rules, 0o644); err != nil {
		t.Fatal(err)
	}
	metricsAddr, promAddr := freePort(t), freePort(t)
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: tcpviz
    static_configs:
      - targets: [%q]
`, filepath.Join(tmp, "rules.yml"), metricsAddr)
	if err := os.WriteFile(filepath.Join(tmp, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	capDir := filepath.Join(tmp, "cap")
	os.Mkdir(capDir, 0o755)
	var monErr bytes.Buffer
	pq := filepath.Join(tmp, "parquet")
	mon := exec.Command(toolPath, "monitor", "--pcap-path", capDir, "--metrics-addr", metricsAddr,
		"--metrics-ports", "5001", "--poll-interval", "200ms", "--parquet", pq, "--host", "lab-1")
	mon.Stderr = &monErr
	if err := mon.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		mon.Process.Signal(os.Interrupt)
		mon.Wait()
		if t.Failed() {
			t.Logf("monitor stderr:\n%s", monErr.String())
		}
		// The monitor's Parquet events, complete once it stopped.
		files, _ := filepath.Glob(filepath.Join(pq, "table=events", "date=2026-11-23", "host=lab-1", "part-monitor-*.parquet"))
		if len(files) != 1 {
			t.Errorf("monitor --parquet wrote %v, want one events file", files)
		}
	}()
	var promOut bytes.Buffer
	srv := exec.Command(prom, "--config.file="+filepath.Join(tmp, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(tmp, "tsdb"), "--web.listen-address="+promAddr)
	srv.Stdout, srv.Stderr = &promOut, &promOut
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		srv.Process.Signal(os.Interrupt)
		srv.Wait()
		if t.Failed() {
			t.Logf("prometheus output (tail):\n%s", tail(promOut.String(), 3000))
		}
	}()

	// Write the capture over about eight seconds, as a capture would.
	data, err := os.ReadFile("../../samples/bbr-loss-sender.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	// Start writing once Prometheus is ready and scraping the monitor.
	for ready := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get("http://" + promAddr + "/api/v1/query?query=up")
		if err == nil {
			b := new(bytes.Buffer)
			b.ReadFrom(resp.Body)
			resp.Body.Close()
			if strings.Contains(b.String(), `"1"]`) {
				break
			}
		}
		if time.Now().After(ready) {
			t.Fatal("Prometheus did not scrape the monitor within 30 s")
		}
	}
	f, err := os.Create(filepath.Join(capDir, "ring_00001_20261123093600.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const parts = 16
	for i := 0; i < parts; i++ {
		if _, err := f.Write(data[i*len(data)/parts : (i+1)*len(data)/parts]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
	}

	type alert struct {
		Labels map[string]string `json:"labels"`
		State  string            `json:"state"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var body struct {
			Data struct {
				Alerts []alert `json:"alerts"`
			} `json:"data"`
		}
		resp, err := http.Get("http://" + promAddr + "/api/v1/alerts")
		if err == nil {
			json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
		}
		for _, a := range body.Data.Alerts {
			if a.Labels["alertname"] == "TCPRetransmissionRatioHigh" && a.State == "firing" {
				if a.Labels["service_port"] != "5001" || a.Labels["direction"] != "c2s" {
					t.Errorf("alert labels %v, want service_port 5001, direction c2s", a.Labels)
				}
				for _, other := range body.Data.Alerts {
					if other.Labels["alertname"] == "TCPVizCaptureLoss" {
						t.Errorf("capture loss alert on a capture without drops: %v", other.Labels)
					}
				}
				return
			}
		}
		if time.Now().After(deadline) {
			for _, q := range []string{"tcpviz_data_segments_total[1m]", "tcpviz_retransmitted_segments_total[1m]"} {
				resp, err := http.Get("http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(q))
				if err == nil {
					b := new(bytes.Buffer)
					b.ReadFrom(resp.Body)
					resp.Body.Close()
					t.Logf("%s: %s", q, b)
				}
			}
			if resp, err := http.Get("http://" + promAddr + "/api/v1/rules"); err == nil {
				b := new(bytes.Buffer)
				b.ReadFrom(resp.Body)
				resp.Body.Close()
				t.Logf("rules: %s", tail(b.String(), 1500))
			}
			t.Fatalf("TCPRetransmissionRatioHigh did not fire within a minute; alerts: %+v", body.Data.Alerts)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return strings.TrimSpace(s)
}

// scrape sums a metric's series in a /metrics page.
func scrape(t *testing.T, addr, metric string) (float64, bool) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	b := new(bytes.Buffer)
	b.ReadFrom(resp.Body)
	sum, found := 0.0, false
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(line, metric+"{") || strings.HasPrefix(line, metric+" ") {
			var v float64
			fields := strings.Fields(line)
			fmt.Sscan(fields[len(fields)-1], &v)
			sum += v
			found = true
		}
	}
	return sum, found
}

// TestTopServesMetrics: `top --metrics-addr` counts the same
// retransmissions parse-pcap finds in the capture it follows.
func TestTopServesMetrics(t *testing.T) {
	tmp := t.TempDir()
	sample := "../../samples/bbr-loss-sender.pcapng"
	if _, errOut, code := runTool(t, "parse-pcap", "-q", "--in", sample, "--out", filepath.Join(tmp, "s")); code != 0 {
		t.Fatal(errOut)
	}
	var sum struct {
		Events map[string]float64 `json:"events"`
	}
	b, _ := os.ReadFile(filepath.Join(tmp, "s", "summary.json"))
	json.Unmarshal(b, &sum)
	want := sum.Events["retransmission"]
	if want == 0 {
		t.Fatal("no retransmissions in the sample")
	}
	capDir := filepath.Join(tmp, "cap")
	os.Mkdir(capDir, 0o755)
	data, _ := os.ReadFile(sample)
	os.WriteFile(filepath.Join(capDir, "x.pcapng"), data, 0o644)
	addr := freePort(t)
	top := exec.Command(toolPath, "top", "--pcap-path", capDir, "--from-start", "--json", "--interval", "200ms",
		"--metrics-addr", addr, "--metrics-ports", "5001")
	if err := top.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		top.Process.Signal(os.Interrupt)
		top.Wait()
	}()
	var got float64
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if v, ok := scrape(t, addr, "tcpviz_retransmitted_segments_total"); ok {
			if got = v; got == want {
				break
			}
		}
	}
	if got != want {
		t.Fatalf("top's metrics count %v retransmissions, parse-pcap %v", got, want)
	}
	if v, _ := scrape(t, addr, "tcpviz_data_segments_total"); v == 0 {
		t.Error("no data segments counted")
	}
}
