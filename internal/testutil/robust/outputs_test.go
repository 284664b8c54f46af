package robust

import (
	"bytes"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcpviz/tcpviz/pcapng"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// run runs the tcpviz binary and returns its output and exit code.
func runBin(t *testing.T, stdin *os.File, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(tcpvizBinary(t), args...)
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// Hostile --out targets: an existing directory with results, a symlink to
// a directory; every command with --out refuses them (a symlink even with
// --force) and changes nothing there.
func TestHostileOutDirs(t *testing.T) {
	dir := scratchDir(t)
	capFile := filepath.Join(dir, "in.pcapng")
	data, err := Synthetic()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(capFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	full := filepath.Join(dir, "full")
	target := filepath.Join(dir, "target")
	for _, d := range []string{full, target} {
		if err := os.Mkdir(d, 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "summary.json"), []byte("KEEP"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	untouched := func(d string) {
		t.Helper()
		ents, _ := os.ReadDir(d)
		b, _ := os.ReadFile(filepath.Join(d, "summary.json"))
		if len(ents) != 1 || string(b) != "KEEP" {
			t.Errorf("%s was written into: %d entries, summary.json %q", d, len(ents), b)
		}
	}
	session := filepath.Join(dir, "session")
	if out, code := runBin(t, nil, "parse-pcap", "--in", capFile, "--out", session); code != 0 {
		t.Fatalf("parse-pcap: %d: %s", code, out)
	}
	commands := [][]string{
		{"parse-pcap", "--in", capFile, "--out"},
		{"report", "--in", session, "--out"},
		{"report", "--in", capFile, "--out"},
	}
	for _, c := range commands {
		for _, force := range []bool{false, true} {
			args := append(append([]string{}, c...), link)
			if force {
				args = append(args, "--force")
			}
			if out, code := runBin(t, nil, args...); code != 1 || !strings.Contains(out, "symbolic link") {
				t.Errorf("%v: exit %d: %s; want 1 and a refusal", args, code, out)
			}
			untouched(target)
		}
		args := append(append([]string{}, c...), full)
		if out, code := runBin(t, nil, args...); code != 1 || !strings.Contains(out, "not empty") {
			t.Errorf("%v: exit %d: %s; want 1 and a refusal", args, code, out)
		}
		untouched(full)
	}
	if out, code := runBin(t, nil, "export", "--format", "parquet", "--out", link, session); code != 1 || !strings.Contains(out, "symbolic link") {
		t.Errorf("export --out symlink: exit %d: %s", code, out)
	}
	untouched(target)
	// --force writes into a directory that holds files.
	if out, code := runBin(t, nil, "parse-pcap", "--in", capFile, "--out", full, "--force"); code != 0 {
		t.Errorf("parse-pcap --force: exit %d: %s", code, out)
	}
	// New directories are 0750, whatever the command.
	for _, c := range [][]string{{"parse-pcap", "--in", capFile, "--out"}, {"report", "--in", capFile, "--out"}} {
		d := filepath.Join(dir, "new-"+c[0], "deeper")
		if out, code := runBin(t, nil, append(c, d)...); code != 0 {
			t.Fatalf("%v: %d: %s", c, code, out)
		}
		if st, err := os.Stat(d); err != nil || st.Mode().Perm() != 0o750 {
			t.Errorf("%s --out: directory mode %v (%v), want 0750", c[0], st.Mode().Perm(), err)
		}
	}
	// monitor --events-out: never through a symlink; a file it appends to
	// is 0640.
	evLink := filepath.Join(dir, "ev-link")
	if err := os.Symlink(filepath.Join(target, "summary.json"), evLink); err != nil {
		t.Fatal(err)
	}
	if out, code := runBin(t, nil, "monitor", "--events-out", evLink, capFile); code != 1 || !strings.Contains(out, "symbolic link") {
		t.Errorf("monitor --events-out symlink: exit %d: %s", code, out)
	}
	untouched(target)
}

// An empty file, /dev/null and a closed standard input are not captures:
// exit 1 saying so, and no --out directory left behind.
func TestEmptyInputs(t *testing.T) {
	dir := scratchDir(t)
	empty := filepath.Join(dir, "empty.pcapng")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	closed, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer closed.Close()
	for i, in := range []string{empty, os.DevNull, "-"} {
		out := filepath.Join(dir, "out", strings.Repeat("x", i+1))
		msg, code := runBin(t, closed, "parse-pcap", "--in", in, "--out", out)
		if code != 1 || !strings.Contains(msg, "not a capture") {
			t.Errorf("parse-pcap --in %s: exit %d: %s; want 1 and \"not a capture\"", in, code, msg)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("parse-pcap --in %s left %s behind", in, out)
		}
		if msg, code := runBin(t, closed, "flows", "--in", in); code != 1 || !strings.Contains(msg, "not a capture") {
			t.Errorf("flows --in %s: exit %d: %s", in, code, msg)
		}
		if in == "-" {
			continue // summary and report read files and sessions
		}
		if msg, code := runBin(t, closed, "summary", "--in", in); code != 1 || !strings.Contains(msg, "not a capture") {
			t.Errorf("summary --in %s: exit %d: %s", in, code, msg)
		}
		rep := filepath.Join(dir, "report", strings.Repeat("x", i+1))
		if msg, code := runBin(t, closed, "report", "--in", in, "--out", rep); code != 1 || !strings.Contains(msg, "not a capture") {
			t.Errorf("report --in %s: exit %d: %s", in, code, msg)
		}
		if _, err := os.Stat(rep); err == nil {
			t.Errorf("report --in %s left %s behind", in, rep)
		}
	}
}

// Inputs that end inside the file header (1-3 bytes of a magic number, a
// cut pcap header or section header block) are truncated captures: exit 1
// naming the file, offset 0 and "truncated", never an empty session.
func TestHeaderTruncatedInputs(t *testing.T) {
	dir := scratchDir(t)
	var ng bytes.Buffer
	w, err := pcapng.NewWriter(&ng, pcapng.WriterOptions{Application: "tcpviz robust"})
	if err == nil {
		err = w.Flush()
	}
	if err != nil || ng.Len() < 28 {
		t.Fatalf("section header: %d bytes, %v", ng.Len(), err)
	}
	pcapHeader := []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0}
	for _, in := range []struct {
		name string
		data []byte
	}{
		{"one-byte", []byte{0x0a}},
		{"pcapng-magic-2", ng.Bytes()[:2]},
		{"pcap-magic-3", pcapHeader[:3]},
		{"pcap-header-10", pcapHeader[:10]},
		{"pcapng-shb-20", ng.Bytes()[:20]},
	} {
		path := filepath.Join(dir, in.name+".cap")
		if err := os.WriteFile(path, in.data, 0o600); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "out-"+in.name)
		for _, args := range [][]string{
			{"parse-pcap", "--in", path, "--out", out},
			{"flows", "--in", path},
			{"summary", "--in", path},
			{"report", "--in", path, "--out", out + "-report"},
		} {
			msg, code := runBin(t, nil, args...)
			if code != 1 || !strings.Contains(msg, path+": offset 0: truncated") {
				t.Errorf("%s --in %s (%d bytes): exit %d: %s; want 1 and %q", args[0], in.name, len(in.data), code, msg, path+": offset 0: truncated")
			}
		}
		for _, o := range []string{out, out + "-report"} {
			if _, err := os.Stat(o); err == nil {
				t.Errorf("%s left behind", o)
			}
		}
	}
}

// Control characters in a captured process name reach no text or CSV
// output raw: one sanitiser for all of them.
func TestControlCharsSanitised(t *testing.T) {
	dir := scratchDir(t)
	capFile := filepath.Join(dir, "ctl.pcapng")
	var b bytes.Buffer
	w, err := pcapng.NewWriter(&b, pcapng.WriterOptions{Application: "tcpviz robust"})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := w.AddInterface(pcapng.Interface{LinkType: 1, SnapLen: 262144})
	c, s := netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:5201")
	ts := int64(1_700_000_000_000_000_000)
	for i, sg := range Conversation(c, s) {
		f, err := Frame(sg)
		if err != nil {
			t.Fatal(err)
		}
		ts += 1_000_000
		if err := w.WritePacket(id, ts, f, uint32(len(f)), pcapng.PacketOptions{}); err != nil {
			t.Fatal(err)
		}
		if i == 3 {
			r := &kblock.Record{Kind: kblock.KindState, OldState: 2, NewState: 1, PID: 7, Comm: "ev\x1b]0;pwn\x07\r\u202eil",
				TS: ts, Saddr: c.Addr(), Daddr: s.Addr(), Sport: c.Port(), Dport: s.Port()}
			if err := w.WriteCustom(kblock.PEN, kblock.Append(nil, r), false); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(capFile, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"flows", "--in", capFile}, {"flows", "--in", capFile, "--csv"}, {"flows", "--in", capFile, "-w"},
		{"summary", "--in", capFile}, {"summary", "--in", capFile, "--format", "csv"},
	} {
		out, code := runBin(t, nil, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, out)
		}
		if !strings.Contains(out, "ev?]0;pwn??") {
			t.Errorf("%v: the process name is missing or not sanitised:\n%q", args, out)
		}
		for _, r := range out {
			if (r < 0x20 && r != '\n') || r == 0x7f || r == '\u202e' {
				t.Errorf("%v: raw control character %U in the output:\n%q", args, r, out)
				break
			}
		}
	}
}
