//go:build linux

package robust

import (
	"bytes"
	"context"
	"html"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/session"
	"github.com/tcpviz/tcpviz/internal/sessionfiles"
	"github.com/tcpviz/tcpviz/internal/testutil/pipecfg"
	"github.com/tcpviz/tcpviz/internal/testutil/syncbuf"
	"github.com/tcpviz/tcpviz/pcapng"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// hostileCapture has one connection per hostile string, each owned (by its
// kernel records) by a process whose comm is that string; the interface
// name and the section comment are hostile too.
func hostileCapture(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapng.NewWriter(&buf, pcapng.WriterOptions{Application: Hostile[1], Comment: Hostile[2]})
	if err != nil {
		t.Fatal(err)
	}
	id, err := w.AddInterface(pcapng.Interface{LinkType: 1, SnapLen: 262144, Name: Hostile[0]})
	if err != nil {
		t.Fatal(err)
	}
	ts := int64(1_700_000_000_000_000_000)
	server := netip.MustParseAddrPort("10.0.0.2:443")
	for i, comm := range Hostile {
		client := netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(40000+i))
		for j, sg := range Conversation(client, server) {
			f, err := Frame(sg)
			if err != nil {
				t.Fatal(err)
			}
			ts += 1_000_000
			if err := w.WritePacket(id, ts, f, uint32(len(f)), pcapng.PacketOptions{}); err != nil {
				t.Fatal(err)
			}
			if j == 2 || j == 6 {
				r := &kblock.Record{Kind: kblock.KindState, TS: ts, Saddr: client.Addr(), Daddr: server.Addr(),
					Sport: client.Port(), Dport: server.Port(), OldState: 2, NewState: 1, PID: uint32(100 + i), Comm: comm}
				if j == 6 {
					r = &kblock.Record{Kind: kblock.KindProbe, TS: ts, Saddr: client.Addr(), Daddr: server.Addr(),
						Sport: client.Port(), Dport: server.Port(), SndCwnd: 10, SRTTus: 900, PID: uint32(100 + i), Comm: comm}
				}
				if err := w.WriteCustom(kblock.PEN, kblock.Append(nil, r), false); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestReportEscapesCaptureStrings renders the dashboards of a capture whose
// strings are markup: no tag from the capture may reach a page unescaped,
// and each string must be in the page (escaped), or the test proves nothing.
func TestReportEscapesCaptureStrings(t *testing.T) {
	bin := tcpvizBinary(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "hostile.pcapng")
	if err := os.WriteFile(in, hostileCapture(t), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "report")
	if b, err := exec.Command(bin, "report", "--in", in, "--out", out).CombinedOutput(); err != nil {
		t.Fatalf("tcpviz report: %v: %s", err, b)
	}
	pages, _ := filepath.Glob(filepath.Join(out, "*.html"))
	if len(pages) == 0 {
		t.Fatal("report wrote no page")
	}
	var all []byte
	for _, p := range pages {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range Hostile {
			if i := bytes.Index(b, []byte(s)); i >= 0 {
				t.Errorf("%s: capture string %q appears unescaped at byte %d", filepath.Base(p), s, i)
			}
		}
		for _, tag := range []string{"<img src=x", "<script>alert", "<svg onload"} {
			if bytes.Contains(b, []byte(tag)) {
				t.Errorf("%s: raw %q in the page", filepath.Base(p), tag)
			}
		}
		all = append(all, b...)
	}
	for _, s := range Hostile {
		if !bytes.Contains(all, []byte(html.EscapeString(s))) && !bytes.Contains(all, []byte(jsonEscaped(s))) {
			t.Errorf("comm %q is not in any page, escaped or not: the check proves nothing", s)
		}
	}
}

// jsonEscaped is s as encoding/json writes it inside a string (HTML-safe).
func jsonEscaped(s string) string {
	r := strings.NewReplacer("<", `\u003c`, ">", `\u003e`, "&", `\u0026`, `"`, `\"`)
	return r.Replace(s)
}

// TestOutputPermissions runs with a umask of 0: session directories and
// parse outputs must still be closed to other users (they describe
// traffic).
func TestOutputPermissions(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	base := filepath.Join(t.TempDir(), "out")
	dir, err := session.NewDir(base, time.Unix(1_700_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(t.TempDir(), "in.pcapng")
	if err := os.WriteFile(in, synthetic(t), 0o600); err != nil {
		t.Fatal(err)
	}
	explicit := filepath.Join(t.TempDir(), "a", "b")
	for _, out := range []string{dir, explicit} {
		if _, err := sessionfiles.Run(context.Background(), sessionfiles.Options{Input: in, OutDir: out, Pipeline: pipecfg.Detectors()}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		perm := info.Mode().Perm()
		switch {
		case d.IsDir() && perm&0o007 != 0:
			t.Errorf("%s: directory mode %v is open to others, want 0750", path, perm)
		case !d.IsDir() && perm != 0o640:
			t.Errorf("%s: file mode %v, want 0640", path, perm)
		}
		return nil
	}
	for _, root := range []string{base, filepath.Dir(explicit)} {
		if err := filepath.WalkDir(root, check); err != nil {
			t.Fatal(err)
		}
	}
}

// asNobody returns the command prefix that runs a program as user nobody
// without any capability, and nobody's uid and gid.
func asNobody(t *testing.T) ([]string, int, int) {
	t.Helper()
	needRoot(t, "switches to user nobody")
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("needs setpriv (Debian package util-linux)")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return []string{"setpriv", "--reuid=" + u.Uid, "--regid=" + u.Gid, "--clear-groups", "--inh-caps=-all"}, uid, gid
}

// TestUnprivilegedCommands: everything but capture works without root.
func TestUnprivilegedCommands(t *testing.T) {
	prefix, uid, gid := asNobody(t)
	bin := tcpvizBinary(t)
	dir, err := os.MkdirTemp("", "tcpviz-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	in := filepath.Join(dir, "in.pcapng")
	if err := os.WriteFile(in, synthetic(t), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, in} {
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	session := filepath.Join(dir, "s")
	runs := []struct {
		args  []string
		files []string // files the command must have written
	}{
		{[]string{"parse-pcap", "--in", in, "--out", session, "-q"}, []string{"s/events.jsonl", "s/flows.jsonl", "s/summary.json"}},
		{[]string{"report", "--in", session, "--out", filepath.Join(dir, "r")}, []string{"r/report.html"}},
		{[]string{"summary", "--in", in}, nil},
		{[]string{"flows", "--in", in}, nil},
	}
	for _, r := range runs {
		args := append(append(append([]string{}, prefix...), bin), r.args...)
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("as nobody: tcpviz %s: %v: %s", strings.Join(r.args, " "), err, out)
			continue
		}
		for _, f := range r.files {
			info, err := os.Stat(filepath.Join(dir, f))
			if err != nil {
				t.Errorf("tcpviz %s as nobody: %v", r.args[0], err)
				continue
			}
			if st := info.Sys().(*syscall.Stat_t); int(st.Uid) != uid {
				t.Errorf("%s owned by uid %d, want nobody (%d)", f, st.Uid, uid)
			}
		}
	}
	if exec.Command(bin, "monitor", "--help").Run() == nil {
		checkMonitorUnprivileged(t, prefix, bin, in)
	}
}

// checkMonitorUnprivileged follows a capture as nobody and stops the
// monitor with SIGINT: it must have read every packet and exit 0.
func checkMonitorUnprivileged(t *testing.T, prefix []string, bin, in string) {
	t.Helper()
	args := append(append(append([]string{}, prefix...), bin), "monitor", "--pcap-path", in, "--from-start")
	cmd := exec.Command(args[0], args[1:]...)
	var stderr syncbuf.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stderr.String(), "following") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Second) // the file is read from the start
	cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-done:
		// 28 TCP packets: the synthetic capture's two conversations.
		if err != nil || !strings.Contains(stderr.String(), "28 TCP") {
			t.Errorf("as nobody: tcpviz monitor: %v: %s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Errorf("as nobody: tcpviz monitor still running 20s after SIGINT: %s", stderr.String())
	}
}

// TestCaptureCapabilityMessages starts a capture with capabilities removed:
// it must refuse up front and name exactly what is missing.
func TestCaptureCapabilityMessages(t *testing.T) {
	needRoot(t, "drops capabilities with setpriv")
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("needs setpriv (Debian package util-linux)")
	}
	if exec.Command("setpriv", "--bounding-set=-bpf", "true").Run() != nil {
		t.Skip("setpriv does not know CAP_BPF (util-linux too old)")
	}
	nobody, _, _ := asNobody(t)
	tests := []struct {
		name    string
		prefix  []string
		missing string // the list the message must end with
		notRoot bool
	}{
		{"no CAP_NET_ADMIN", []string{"setpriv", "--inh-caps=-net_admin", "--bounding-set=-net_admin"}, "CAP_NET_ADMIN", false},
		{"no CAP_BPF", []string{"setpriv", "--inh-caps=-bpf,-sys_admin", "--bounding-set=-bpf,-sys_admin"}, "CAP_BPF", false},
		{"no CAP_PERFMON", []string{"setpriv", "--inh-caps=-perfmon,-sys_admin", "--bounding-set=-perfmon,-sys_admin"}, "CAP_PERFMON", false},
		{"user nobody", nobody, "CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, err := os.MkdirTemp("", "tcpviz-caps-")
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(dir)
			os.Chmod(dir, 0o777)
			out := filepath.Join(dir, "x.pcapng")
			// A copy of this test binary that user nobody may run.
			helper := filepath.Join(dir, "helper")
			b, err := os.ReadFile(os.Args[0])
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(helper, b, 0o755); err != nil {
				t.Fatal(err)
			}
			args := append(append([]string{}, tc.prefix...), helper, "-test.run=^$")
			cmd := exec.Command(args[0], args[1:]...)
			cmd.Env = append(os.Environ(), "TCPVIZ_ROBUST_HELPER=capture", "CAP_IFACE=lo", "CAP_OUT="+out)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { done <- cmd.Wait() }()
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				t.Fatal("capture without its capabilities is still running after 20s")
			}
			msg := stderr.String()
			want := "lacks " + tc.missing + " (try sudo)"
			if err == nil || !strings.Contains(msg, "capture needs root or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN") ||
				!strings.Contains(msg, want) {
				t.Fatalf("exit %v, message %q; want one ending %q", err, msg, want)
			}
			if tc.notRoot != strings.Contains(msg, "not running as root") {
				t.Fatalf("message %q: not-root mention should be %v", msg, tc.notRoot)
			}
			if _, err := os.Stat(out); err == nil {
				t.Fatal("a capture file was created before the capability check")
			}
		})
	}
}
