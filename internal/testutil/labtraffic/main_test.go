//go:build linux

package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/testutil/lab"
)

// Each scenario runs the real binary in a fresh lab and checks, with the
// client's kernel counters, that the TCP behaviour the samples rely on really
// happened.
func TestScenarios(t *testing.T) {
	if err := lab.Available(); err != nil {
		t.Skipf("lab: %v", err)
	}
	bin := lab.BuildTraffic(t)
	tests := []struct {
		name    string
		setup   func(*lab.Lab) error
		server  []string // nil: no server
		client  []string
		wantErr string            // client must fail with this text
		counter map[string]uint64 // minimum deltas of client counters
		recv    int64             // bytes the server must report, -1: don't check
	}{
		{
			name:    "bulk cubic",
			server:  []string{"--once"},
			client:  []string{"--bytes", "2000000", "--cc", "cubic"},
			counter: map[string]uint64{"TcpOutSegs": 2000000 / 65536},
			recv:    2000000,
		},
		{
			name:    "bulk bbr through loss",
			setup:   func(l *lab.Lab) error { return l.SetLoss(lab.ToServer, 20) },
			server:  []string{"--once"},
			client:  []string{"--bytes", "3000000", "--cc", "bbr"},
			counter: map[string]uint64{"TcpRetransSegs": 1},
			recv:    3000000,
		},
		{
			name:    "unknown congestion control",
			server:  []string{"--once"},
			client:  []string{"--bytes", "10", "--cc", "nosuchcc"},
			wantErr: `set congestion control "nosuchcc"`,
			recv:    -1,
		},
		{
			name:    "zero window",
			server:  []string{"--once", "--rcvbuf", "16384", "--pause-after", "65536", "--no-read-for", "1500ms"},
			client:  []string{"--bytes", "400000"},
			counter: map[string]uint64{"TcpExtTCPWinProbe": 1},
			recv:    400000,
		},
		{
			name:    "keep-alives",
			server:  []string{"--once"},
			client:  []string{"--bytes", "100", "--keepalive", "1s", "--idle", "2500ms"},
			counter: map[string]uint64{"TcpExtTCPKeepAlive": 2},
			recv:    100,
		},
		{
			name:    "connections ended by RST",
			server:  []string{},
			client:  []string{"--bytes", "1000", "--conns", "5", "--rst"},
			counter: map[string]uint64{"TcpActiveOpens": 5, "TcpOutRsts": 5},
			recv:    -1,
		},
		{
			name:    "refused",
			client:  []string{"--bytes", "0"},
			wantErr: "connection refused",
			counter: map[string]uint64{"TcpAttemptFails": 1},
			recv:    -1,
		},
		{
			name:    "unanswered SYNs",
			setup:   func(l *lab.Lab) error { return l.DropSYN(lab.ToServer, true) },
			server:  []string{},
			client:  []string{"--bytes", "0", "--connect-timeout", "2500ms"},
			wantErr: "i/o timeout",
			counter: map[string]uint64{"TcpExtTCPSynRetrans": 2},
			recv:    -1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := lab.New(t, lab.Options{NoOffload: true})
			if tt.setup != nil {
				if err := tt.setup(l); err != nil {
					t.Fatal(err)
				}
			}
			var srv *lab.Proc
			if tt.server != nil {
				var err error
				srv, err = l.Start(l.Server, bin, append([]string{"server", "-l", ":5001"}, tt.server...)...)
				if err != nil {
					t.Fatal(err)
				}
				if err := srv.WaitOutput("listening on", 5*time.Second); err != nil {
					t.Fatal(err)
				}
			}
			before, err := l.Nstat(l.Client)
			if err != nil {
				t.Fatal(err)
			}
			args := append([]string{"client", "-c", l.ServerAddr.String() + ":5001"}, tt.client...)
			out, err := l.RunErr(l.Client, bin, args...)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("client: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("client succeeded, want an error with %q: %s", tt.wantErr, out)
			case tt.wantErr != "" && !strings.Contains(out, tt.wantErr):
				t.Fatalf("client error %q, want %q", out, tt.wantErr)
			}
			after, err := l.Nstat(l.Client)
			if err != nil {
				t.Fatal(err)
			}
			delta := lab.Delta(before, after)
			for name, min := range tt.counter {
				if delta[name] < min {
					t.Errorf("client %s +%d, want >= %d", name, delta[name], min)
				}
			}
			if tt.recv >= 0 {
				if err := srv.Wait(); err != nil {
					t.Fatalf("server: %v: %s", err, srv.Output())
				}
				if got := received(t, srv.Output()); got != tt.recv {
					t.Errorf("server received %d bytes, want %d", got, tt.recv)
				}
			}
		})
	}
}

var receivedRE = regexp.MustCompile(`received (\d+) bytes`)

func received(t *testing.T, out string) int64 {
	t.Helper()
	m := receivedRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("server printed no summary: %s", out)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
