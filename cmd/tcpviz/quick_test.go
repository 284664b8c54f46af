//go:build linux

package main

import (
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/testutil/lab"
	"github.com/tcpviz/tcpviz/internal/testutil/syncbuf"
)

func TestQuickNeedsRoot(t *testing.T) {
	work := t.TempDir()
	os.Chmod(work, 0o777) // an unprivileged run could create out/ here
	o := toolRun{dir: work}
	if os.Geteuid() == 0 {
		setpriv, err := exec.LookPath("setpriv")
		if err != nil {
			t.Skip("as root, needs setpriv (Debian package util-linux) to run tcpviz unprivileged")
		}
		o.wrap = []string{setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"}
	}
	_, stderr, code := runToolWith(t, o, "quick", "-i", "lo", "--duration", "1s")
	if code != exitFailure {
		t.Fatalf("exit %d, want %d: %s", code, exitFailure, stderr)
	}
	if !strings.Contains(stderr, "needs root") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("stderr %q: want one line saying quick needs root", stderr)
	}
	if ents, _ := os.ReadDir(work); len(ents) != 0 {
		t.Errorf("quick without privileges left %v behind", ents)
	}
}

// TestQuickCapturesAndReports runs quick on the server side of a lab, sends
// one connection through it and checks the session: capture, events,
// report, headline figures, and that kernel records make the server local.
func TestQuickCapturesAndReports(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: eBPF capture in a network namespace")
	}
	l := lab.New(t, lab.Options{})
	out := filepath.Join(t.TempDir(), "run")
	cmd := exec.Command(toolPath, "quick", "-i", l.ServerIf, "--netns", l.Server, "--duration", "4s", "--out", out)
	var stdout, stderr syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "TZ=UTC")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stderr.String(), "capturing on") {
		select {
		case err := <-done:
			t.Fatalf("quick ended before capturing: %v: %s", err, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("quick did not start capturing: %s", stderr.String())
		}
	}

	const payload = 200_000
	var ln net.Listener
	if err := l.Do(l.Server, func() (err error) {
		ln, err = net.Listen("tcp4", net.JoinHostPort(l.ServerAddr.String(), "5001"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	received := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			received <- -1
			return
		}
		n, _ := io.Copy(io.Discard, c)
		c.Close()
		received <- n
	}()
	if err := l.Do(l.Client, func() error {
		c, err := net.Dial("tcp4", net.JoinHostPort(l.ServerAddr.String(), "5001"))
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write(make([]byte, payload))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n := <-received; n != payload {
		t.Fatalf("server received %d bytes, want %d", n, payload)
	}
	ln.Close()

	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("quick: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("quick did not finish: %s", stderr.String())
	}
	for _, f := range []string{"capture.pcapng", "events.jsonl", "flows.jsonl", "summary.json", "report.html"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("session lacks %s", f)
		}
	}
	so := stdout.String()
	t.Logf("quick:\n%s", so)
	if !strings.Contains(so, "flows:    1 connection,") || !strings.Contains(so, "report:   "+filepath.Join(out, "report.html")) {
		t.Errorf("headline:\n%s", so)
	}

	// The capture's own view: the connection, from the server's side.
	table, stderrFlows, code := runTool(t, "flows", "--in", filepath.Join(out, "capture.pcapng"), "--json")
	if code != exitOK {
		t.Fatalf("flows on the capture: exit %d: %s", code, stderrFlows)
	}
	var row struct {
		LAddr   string  `json:"laddr"`
		LPort   uint16  `json:"lport"`
		RX      uint64  `json:"rx_bytes"`
		PID     *uint32 `json:"pid"`
		Comm    *string `json:"comm"`
		State   string  `json:"state"`
		Servers bool    `json:"local_is_server"`
	}
	t.Logf("flows:\n%s", table)
	if err := json.Unmarshal([]byte(strings.TrimSpace(table)), &row); err != nil {
		t.Fatalf("flows --json %q: %v", table, err)
	}
	if row.RX != payload || row.State != "SF" {
		t.Errorf("flow row %+v: want %d bytes received and SF", row, payload)
	}
	var sum struct {
		KernelRecords int `json:"kernel_records"`
	}
	b, _ := os.ReadFile(filepath.Join(out, "summary.json"))
	json.Unmarshal(b, &sum)
	if sum.KernelRecords > 0 {
		// The kernel records are the server socket's: the server is local.
		if !row.Servers || row.LPort != 5001 {
			t.Errorf("kernel records from the server's socket, but the local side is %s:%d", row.LAddr, row.LPort)
		}
		if row.Comm == nil || row.PID == nil {
			t.Errorf("kernel records, but no process: %+v", row)
		}
	} else {
		t.Logf("no kernel records in the capture: process columns not checked")
	}
}
