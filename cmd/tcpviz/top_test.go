//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/testutil/lab"
	"github.com/tcpviz/tcpviz/internal/testutil/syncbuf"
)

func TestTopUsage(t *testing.T) {
	for _, args := range [][]string{
		{"top", "--interval", "10ms", "--once"},
		{"top", "--sort", "nosuch", "--once"},
		{"top", "--once", "--json"},
		{"top", "--port", "0", "--once"},
		{"top"}, // standard output is not a terminal here
	} {
		if _, stderr, code := runToolWith(t, toolRun{}, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d: %s", args, code, exitUsage, stderr)
		}
	}
}

// topLab is two transfers from the client namespace of a lab, port 5001
// without loss and port 5002 through 2 % loss, with tcpviz top watching the
// client's interface.
type topLab struct {
	*lab.Lab
	clean, lossy *lab.Proc
}

func newTopLab(t *testing.T) *topLab {
	if err := lab.Available(); err != nil {
		t.Skip(err)
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("needs tmux (Debian package tmux) to drive the terminal view")
	}
	l := lab.New(t, lab.Options{})
	if err := l.AddRule("tcp dport 5002 numgen random mod 1000 < 20 counter drop"); err != nil {
		t.Fatal(err)
	}
	return &topLab{Lab: l}
}

// start begins both transfers of n bytes each; the receivers read 64 KiB
// every 20 ms (about 3 MB/s), so only port 5002's random loss drops
// packets.
func (tl *topLab) start(t *testing.T, n int) {
	bin := lab.BuildTraffic(t)
	for _, port := range []string{"5001", "5002"} {
		srv, err := tl.Start(tl.Server, bin, "server", "-l", tl.ServerAddr.String()+":"+port, "--read-delay", "20ms")
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.WaitOutput("listening", 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if tl.clean, err = tl.Start(tl.Client, bin, "client", "-c", tl.ServerAddr.String()+":5001", "--bytes", strconv.Itoa(n)); err != nil {
		t.Fatal(err)
	}
	if tl.lossy, err = tl.Start(tl.Client, bin, "client", "-c", tl.ServerAddr.String()+":5002", "--bytes", strconv.Itoa(n)); err != nil {
		t.Fatal(err)
	}
}

// TestTopScreen drives the full-screen view in tmux while two transfers
// run: both connections appear with their process ids, the lossy one's
// retransmissions rise, and the filter and sort keys change the screen.
func TestTopScreen(t *testing.T) {
	tl := newTopLab(t)
	session := "tcpviz-top-" + strconv.Itoa(os.Getpid())
	errFile := t.TempDir() + "/top.err"
	cmd := fmt.Sprintf("%s top -i %s --netns %s --interval 300ms 2>%s", toolPath, tl.ClientIf, tl.Client, errFile)
	if out, err := exec.Command("tmux", "new-session", "-d", "-s", session, "-x", "200", "-y", "40", cmd).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("tmux", "kill-session", "-t", session).Run() })
	screen := func() string {
		out, _ := exec.Command("tmux", "capture-pane", "-p", "-t", session).Output()
		return string(out)
	}
	keys := func(k ...string) {
		exec.Command("tmux", append([]string{"send-keys", "-t", session}, k...)...).Run()
	}
	waitFor := func(what string, ok func(string) bool) string {
		t.Helper()
		deadline := time.Now().Add(45 * time.Second)
		for {
			s := screen()
			if ok(s) {
				return s
			}
			if time.Now().After(deadline) {
				errs, _ := os.ReadFile(errFile)
				t.Fatalf("screen never showed %s:\n%s\nstderr: %s", what, s, errs)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitFor("the capture", func(s string) bool { return strings.Contains(s, "tcpviz top — live on") })
	tl.start(t, 100_000_000)
	pid := func(p *lab.Proc) string { return strconv.Itoa(p.Cmd.Process.Pid) }
	s := waitFor("both connections with their owners", func(s string) bool {
		return strings.Contains(rowOf(s, ":5001"), pid(tl.clean)) && strings.Contains(rowOf(s, ":5002"), pid(tl.lossy))
	})
	first := retrans(s, ":5002")
	waitFor("the lossy connection's retransmissions rising", func(s string) bool { return retrans(s, ":5002") > first })
	// Without random loss the kernel may still retransmit a few segments
	// (tail-loss probes while the receiver's window is shut).
	waitFor("the lossy connection's retransmissions well above the other's", func(s string) bool {
		return retrans(s, ":5002") > 5*retrans(s, ":5001")+10
	})

	keys("/", "5002", "Enter")
	waitFor("only the filtered connection", func(s string) bool {
		return rowOf(s, ":5002") != "" && rowOf(s, ":5001") == "" && strings.Contains(s, "[filter: 5002]")
	})
	keys("Escape")
	// A key right after ESC would read as Alt+key.
	waitFor("the filter cleared", func(s string) bool { return !strings.Contains(s, "[filter:") })
	for i := 0; i < 20 && !strings.Contains(screen(), "RETR↓"); i++ {
		keys(">")
		time.Sleep(200 * time.Millisecond)
	}
	waitFor("sorted by retransmissions, lossy first", func(s string) bool {
		a, b := strings.Index(s, ":5002 "), strings.Index(s, ":5001 ")
		return strings.Contains(s, "RETR↓") && a > 0 && b > 0 && a < b
	})
	keys("q")
	deadline := time.Now().Add(10 * time.Second)
	for exec.Command("tmux", "has-session", "-t", session).Run() == nil {
		if time.Now().After(deadline) {
			t.Fatalf("q did not end top:\n%s", screen())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// rowOf is the screen line of the connection whose remote end has suffix.
func rowOf(screen, suffix string) string {
	for _, line := range strings.Split(screen, "\n") {
		if strings.Contains(line, suffix+" ") && !strings.HasPrefix(line, "──") {
			return line
		}
	}
	return ""
}

// retrans reads the RETR column of a connection's row, -1 when absent.
func retrans(screen, suffix string) int {
	head, row := "", rowOf(screen, suffix)
	for _, line := range strings.Split(screen, "\n") {
		if strings.Contains(line, "COMM") && strings.Contains(line, "RETR") {
			head = line
		}
	}
	if head == "" || row == "" {
		return -1
	}
	// Right-aligned: the number ends where the column name ends. Both
	// lines are compared in runes (the header may hold an arrow).
	h, r := []rune(head), []rune(row)
	at := strings.Index(string(h), "RETR")
	end := len([]rune(string(h)[:at])) + len("RETR")
	if end > len(r) {
		return -1
	}
	f := strings.Fields(string(r[:end]))
	if len(f) == 0 {
		return -1
	}
	n, err := strconv.Atoi(f[len(f)-1])
	if err != nil {
		return -1
	}
	return n
}

var (
	ssLine    = regexp.MustCompile(`cwnd:(\d+)`)
	ssRTT     = regexp.MustCompile(`\brtt:([\d.]+)/`)
	ssRetrans = regexp.MustCompile(`retrans:\d+/(\d+)`)
)

// TestTopJSONAgreesWithSS compares --json with ss -ti polled in the same
// namespace during the lossy transfer: each ss sample's cwnd, srtt and
// total retransmissions must lie within what top reported over the
// surrounding second.
func TestTopJSONAgreesWithSS(t *testing.T) {
	tl := newTopLab(t)
	top := exec.Command(toolPath, "top", "--json", "-i", tl.ClientIf, "--netns", tl.Client, "--port", "5002", "--interval", "200ms")
	stdout, err := top.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncbuf.Buffer
	top.Stderr = &stderr
	if err := top.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { top.Process.Kill(); top.Wait() })
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(stderr.String(), "capturing on"); {
		if time.Now().After(deadline) {
			t.Fatalf("top did not start capturing: %s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	type sample struct {
		at                  time.Time
		cwnd, srtt, retrans float64
	}
	rows := make(chan sample, 4096)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var r struct {
				TS      time.Time `json:"ts"`
				Cwnd    float64   `json:"cwnd"`
				SRTT    float64   `json:"srtt_ms"`
				Retrans float64   `json:"retransmissions"`
				Kernel  bool      `json:"kernel"`
				Remote  string    `json:"remote"`
			}
			if json.Unmarshal(sc.Bytes(), &r) == nil && r.Kernel && strings.HasSuffix(r.Remote, ":5002") {
				rows <- sample{at: r.TS, cwnd: r.Cwnd, srtt: r.SRTT, retrans: r.Retrans}
			}
		}
		close(rows)
	}()
	tl.start(t, 40_000_000)
	var ss []sample
	for end := time.Now().Add(6 * time.Second); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		out, _ := tl.RunErr(tl.Client, "ss", "-tinH", "dst", tl.ServerAddr.String()+":5002")
		m := ssLine.FindStringSubmatch(out)
		rtt := ssRTT.FindStringSubmatch(out)
		if m == nil || rtt == nil {
			continue
		}
		s := sample{at: time.Now()}
		s.cwnd, _ = strconv.ParseFloat(m[1], 64)
		s.srtt, _ = strconv.ParseFloat(rtt[1], 64)
		if r := ssRetrans.FindStringSubmatch(out); r != nil {
			s.retrans, _ = strconv.ParseFloat(r[1], 64)
		}
		ss = append(ss, s)
	}
	top.Process.Signal(os.Interrupt)
	var got []sample
	for r := range rows {
		got = append(got, r)
	}
	if len(ss) < 5 || len(got) < 5 {
		t.Fatalf("%d ss samples and %d top rows: too few to compare (stderr: %s)", len(ss), len(got), stderr.String())
	}
	// Top's values over [at-1.5s, at+1.5s] bound what ss saw at `at`, with
	// 25 % slack: the kernel samples tcp_probe at most every 100 ms and a
	// lossy connection's cwnd moves by more than that between two records.
	within := func(s sample, val func(sample) float64) (bool, float64, float64) {
		lo, hi, n := 1e18, -1e18, 0
		for _, g := range got {
			if d := g.at.Sub(s.at); d > -1500*time.Millisecond && d < 1500*time.Millisecond {
				lo, hi, n = min(lo, val(g)), max(hi, val(g)), n+1
			}
		}
		return n > 0 && val(s) >= lo*0.75-1 && val(s) <= hi*1.25+1, lo, hi
	}
	for name, val := range map[string]func(sample) float64{
		"cwnd":            func(s sample) float64 { return s.cwnd },
		"srtt":            func(s sample) float64 { return s.srtt },
		"retransmissions": func(s sample) float64 { return s.retrans },
	} {
		bad := 0
		for _, s := range ss {
			if ok, lo, hi := within(s, val); !ok {
				bad++
				t.Logf("%s: ss %.2f at %s, top %.2f..%.2f around it", name, val(s), s.at.Format("15:04:05.000"), lo, hi)
			}
		}
		// Samples at the start or end may have few top rows around them.
		if bad > len(ss)/5 {
			t.Errorf("%s: %d of %d ss samples outside top's values", name, bad, len(ss))
		}
	}
	if last := got[len(got)-1]; last.retrans == 0 {
		t.Error("top saw no retransmissions on the connection through 2 % loss")
	}
}
