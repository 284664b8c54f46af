//go:build linux

package capture

import (
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/testutil/lab"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// loopConn is a loopback connection made by this process (both ends).
func loopConn(t *testing.T, network, addr string, n int) (ports [2]uint16) {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("cannot listen on %s %s: %v", network, addr, err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, err = io.Copy(io.Discard, c)
			c.Close()
		}
		done <- err
	}()
	c, err := net.Dial(network, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return [2]uint16{uint16(c.LocalAddr().(*net.TCPAddr).Port), uint16(ln.Addr().(*net.TCPAddr).Port)}
}

// externalConn makes a loopback connection between two other processes.
func externalConn(t *testing.T, traffic string, port int) {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	srv := exec.Command(traffic, "server", "-l", addr, "--once")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Process.Kill()
	var err error
	for i := 0; i < 50; i++ {
		var out []byte
		out, err = exec.Command(traffic, "client", "-c", addr, "--bytes", "200000").CombinedOutput()
		if err == nil {
			break
		}
		_ = out
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("external connection: %v", err)
	}
	_ = srv.Wait()
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Filters run in the kernel: only the wanted connection reaches the file.
func TestKernelFilters(t *testing.T) {
	needRoot(t)
	traffic := lab.BuildTraffic(t)
	tests := []struct {
		name   string
		cfg    func(target [2]uint16) Config
		target func(t *testing.T) [2]uint16 // made after the capture started
		decoy  func(t *testing.T)
	}{
		{
			name:   "host ::1 (IPv6)",
			cfg:    func([2]uint16) Config { return Config{Hosts: []netip.Addr{netip.MustParseAddr("::1")}} },
			target: func(t *testing.T) [2]uint16 { return loopConn(t, "tcp6", "[::1]:0", 100_000) },
			decoy:  func(t *testing.T) { loopConn(t, "tcp4", "127.0.0.1:0", 100_000) },
		},
		{
			name: "pid of this process",
			cfg:  func([2]uint16) Config { return Config{PID: uint32(os.Getpid())} },
			target: func(t *testing.T) [2]uint16 {
				return loopConn(t, "tcp4", "127.0.0.1:0", 100_000)
			},
			decoy: func(t *testing.T) { externalConn(t, traffic, freePort(t)) },
		},
		{
			name: "comm labtraffic",
			cfg:  func([2]uint16) Config { return Config{Comm: "labtraffic"} },
			// The target is the external transfer; the decoy is ours.
			target: nil,
			decoy:  func(t *testing.T) { loopConn(t, "tcp4", "127.0.0.1:0", 100_000) },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "f.pcapng")
			cfg := tc.cfg([2]uint16{})
			cfg.Interface, cfg.Output = "lo", out
			stop := startCapture(t, cfg)
			var target [2]uint16
			if tc.target != nil {
				target = tc.target(t)
			} else {
				port := freePort(t)
				externalConn(t, traffic, port)
				target = [2]uint16{0, uint16(port)}
			}
			tc.decoy(t)
			time.Sleep(100 * time.Millisecond)
			sum, err := stop()
			if err != nil {
				t.Fatal(err)
			}
			fc := readCapture(t, out)
			if fc.packets == 0 || len(fc.records) == 0 {
				t.Fatalf("%d packets, %d kernel records of the wanted connection", fc.packets, len(fc.records))
			}
			match := func(a, b uint16) bool {
				return a == target[1] || b == target[1] || (target[0] != 0 && (a == target[0] || b == target[0]))
			}
			for _, r := range fc.records {
				const listen = 10
				if r.Kind == kblock.KindState && (r.NewState == listen || r.OldState == listen) {
					continue // the listener: its port may not be bound yet
				}
				if !match(r.Sport, r.Dport) {
					t.Errorf("kernel record of another connection: %v %s:%d -> %s:%d", r.Kind, r.Saddr, r.Sport, r.Daddr, r.Dport)
				}
			}
			if fc.kernel[kblock.KindState] == 0 {
				t.Error("no state records of the wanted connection")
			}
			for _, p := range fc.tcpPorts {
				if !match(p[0], p[1]) {
					t.Errorf("packet of another connection: ports %v", p)
					break
				}
			}
			t.Logf("%d packets, kernel records %v, summary packets %d", fc.packets, fc.kernel, sum.Packets)
		})
	}
}
