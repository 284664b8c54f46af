package robust

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/sessionfiles"
	"github.com/tcpviz/tcpviz/internal/testutil/pipecfg"
)

// bigCapture is a valid capture of n conversations (14 frames each), large
// enough that sessionfiles.Run passes several cancellation checkpoints.
func bigCapture(t *testing.T, n int) []byte {
	t.Helper()
	client := netip.MustParseAddr("10.0.0.1")
	server := netip.MustParseAddrPort("10.0.0.2:80")
	var frames [][]byte
	for i := 0; i < n; i++ {
		for _, sg := range Conversation(netip.AddrPortFrom(client, uint16(10000+i)), server) {
			f, err := Frame(sg)
			if err != nil {
				t.Fatal(err)
			}
			frames = append(frames, f)
		}
	}
	return writeCapture(t, 0, frames, nil)
}

// finalNames are the files sessionfiles.Run writes.
var finalNames = []string{sessionfiles.EventsFile, sessionfiles.FlowsFile, sessionfiles.SummaryFile}

// checkNoFinal asserts no output file exists under its final name and, when
// tmpToo, no temporary file either.
func checkNoFinal(t *testing.T, dir string, tmpToo bool) {
	t.Helper()
	for _, n := range finalNames {
		if _, err := os.Stat(filepath.Join(dir, n)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s exists after an interrupted run (%v)", n, err)
		}
	}
	if tmpToo {
		left, _ := os.ReadDir(dir)
		for _, e := range left {
			t.Errorf("interrupted run left %s", e.Name())
		}
	}
}

// faultyReader passes n bytes through, then calls at() once and returns err
// (nil: keeps reading).
type faultyReader struct {
	r   io.Reader
	n   int
	at  func()
	err error
}

func (f *faultyReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		if f.at != nil {
			f.at()
			f.at = nil
		}
		if f.err != nil {
			return 0, f.err
		}
	}
	if len(p) > f.n && f.n > 0 {
		p = p[:f.n]
	}
	k, err := f.r.Read(p)
	f.n -= k
	return k, err
}

// TestParseInterrupted stops sessionfiles.Run midway in each way a run can stop
// early; no output file may exist afterwards, final or temporary.
func TestParseInterrupted(t *testing.T) {
	data := bigCapture(t, 6000) // 84,000 frames
	errInjected := errors.New("injected read error")
	tests := []struct {
		name string
		run  func(dir string) error
		want error
	}{
		{"context cancelled midway", func(dir string) error {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			in := &faultyReader{r: bytes.NewReader(data), n: len(data) / 2, at: cancel}
			_, err := sessionfiles.Run(ctx, sessionfiles.Options{Input: "-", Stdin: in, OutDir: dir, Packets: true, Pipeline: pipecfg.Detectors()})
			return err
		}, context.Canceled},
		{"read error midway", func(dir string) error {
			in := &faultyReader{r: bytes.NewReader(data), n: len(data) / 2, err: errInjected}
			_, err := sessionfiles.Run(context.Background(), sessionfiles.Options{Input: "-", Stdin: in, OutDir: dir, Packets: true, Pipeline: pipecfg.Detectors()})
			return err
		}, errInjected},
		{"corrupt block midway", func(dir string) error {
			bad := bytes.Clone(data)
			bl := blocks(t, bad)
			b := bl[len(bl)/2]
			bad[b.off+4] ^= 0x40 // the block length no longer matches its trailer
			_, err := sessionfiles.Run(context.Background(), sessionfiles.Options{Input: "-", Stdin: bytes.NewReader(bad), OutDir: dir, Pipeline: pipecfg.Detectors()})
			return err
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			err := tc.run(dir)
			if err == nil {
				t.Fatal("interrupted run reported success")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if tc.want == errInjected && !strings.Contains(err.Error(), "stdin: offset ") {
				t.Fatalf("read error %q does not name the input and offset", err)
			}
			checkNoFinal(t, dir, true)
		})
	}
}

// TestParseDiskFull writes the session into a tmpfs too small for it: the
// run fails with the write error and leaves no file under a final name.
func TestParseDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts a small tmpfs")
	}
	dir := smallTmpfs(t, "256k")
	_, err := sessionfiles.Run(context.Background(), sessionfiles.Options{Input: "-", Stdin: bytes.NewReader(bigCapture(t, 300)),
		OutDir: dir, Packets: true, Pipeline: pipecfg.Detectors()})
	if err == nil || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("error %v, want no space left on device", err)
	}
	if !strings.Contains(err.Error(), sessionfiles.EventsFile) && !strings.Contains(err.Error(), sessionfiles.FlowsFile) {
		t.Fatalf("error %q does not name the file", err)
	}
	checkNoFinal(t, dir, true)
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// tcpvizBinary builds cmd/tcpviz once per test run.
func tcpvizBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tcpviz-robust-bin-")
		if err != nil {
			buildErr = err
			return
		}
		os.Chmod(dir, 0o755) // other users run it in the privilege tests
		binPath = filepath.Join(dir, "tcpviz")
		out, err := exec.Command("go", "build", "-o", binPath, "../../../cmd/tcpviz").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("build tcpviz: %v: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// TestParseKilled kills `tcpviz parse-pcap` with SIGKILL while it writes: no
// file may exist under a final name (hidden temporary files may remain).
func TestParseKilled(t *testing.T) {
	bin := tcpvizBinary(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "big.pcapng")
	if err := os.WriteFile(in, bigCapture(t, 8000), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	for attempt := 0; attempt < 3; attempt++ {
		os.RemoveAll(out)
		cmd := exec.Command(bin, "parse-pcap", "--in", in, "--out", out, "--packets", "-q")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill as soon as a temporary output file has grown: mid-write.
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if grown(out) {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		cmd.Process.Kill()
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			continue // it finished before the kill: try again
		}
		checkNoFinal(t, out, false)
		left, _ := os.ReadDir(out)
		for _, e := range left {
			if !strings.HasPrefix(e.Name(), ".") {
				t.Errorf("killed run left a visible file %s", e.Name())
			}
		}
		return
	}
	t.Skip("parse-pcap finished before it could be killed three times")
}

// grown reports whether a temporary file in dir holds data.
func grown(dir string) bool {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if info, err := e.Info(); err == nil && strings.HasPrefix(e.Name(), ".") && info.Size() > 0 {
			return true
		}
	}
	return false
}

// TestOutputWritesAudited reads the module's non-test sources: every call
// that creates a file must be one of the reviewed atomic writers (temporary
// name, then rename) or the capture's exclusive create. A new direct write
// fails this test until it is reviewed here.
func TestOutputWritesAudited(t *testing.T) {
	reviewed := map[string]string{
		"internal/session/session.go:Create":          "temporary file, renamed by Commit",
		"internal/capture/files.go:create":            "O_EXCL: never overwrites; a capture is valid up to its last block",
		"internal/capture/lock_linux.go:lock":         "the ring's lock file: empty, O_NOFOLLOW, held with flock",
		"contrib/wireshark/wireshark.go:Install":      "temporary file, renamed: the Lua plugin into Wireshark's plugin folder",
		"internal/testutil/capgen/gencap/main.go:run": "test tool: writes NAME.tmp, renamed when complete",
		"cmd/tcpviz/monitor.go:runMonitor":            "--events-out: an append-only live log (O_APPEND, 0640), not a result file",
		"internal/capture/runfile.go:recordRun":       "the running capture's run file: NAME.tmpPID, renamed",
	}
	root := filepath.Join("..", "..", "..")
	creators := map[string]bool{"Create": true, "CreateTemp": true, "WriteFile": true, "OpenFile": true}
	fset := token.NewFileSet()
	var found []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") && path != root) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if pkg, ok := sel.X.(*ast.Ident); ok && (pkg.Name == "os" || pkg.Name == "ioutil") && creators[sel.Sel.Name] {
					if sel.Sel.Name == "OpenFile" && !opensForWrite(call) {
						return true
					}
					key := rel + ":" + fn.Name.Name
					found = append(found, key)
					if _, ok := reviewed[key]; !ok {
						t.Errorf("%s: %s.%s in %s writes a file outside the reviewed atomic writers",
							fset.Position(call.Pos()), pkg.Name, sel.Sel.Name, fn.Name.Name)
					}
				}
				return true
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) == 0 {
		t.Fatal("found no file-creating call at all: the audit is not looking at the sources")
	}
	t.Logf("file-creating calls: %v", found)
}

// opensForWrite reports whether an os.OpenFile call's flags mention a write
// or create flag (flags given as a constant expression).
func opensForWrite(call *ast.CallExpr) bool {
	if len(call.Args) < 2 {
		return true
	}
	write := false
	ast.Inspect(call.Args[1], func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			switch sel.Sel.Name {
			case "O_WRONLY", "O_RDWR", "O_CREATE", "O_APPEND", "O_TRUNC":
				write = true
			}
		}
		return true
	})
	return write
}
