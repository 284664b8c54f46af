//go:build linux

package lab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/tcpviz/tcpviz/internal/testutil/syncbuf"
)

// Exec returns a command that runs name inside namespace ns (through
// `ip netns exec`). The caller runs it.
func (l *Lab) Exec(ctx context.Context, ns, name string, args ...string) *exec.Cmd {
	full := append([]string{"netns", "exec", ns, name}, args...)
	cmd := exec.CommandContext(ctx, "ip", full...)
	// Own process group, so stopping it also stops whatever it spawned.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// Run runs name inside ns, waits for it and returns its combined output. A
// failure (or a run longer than 2 minutes) is fatal to the test.
func (l *Lab) Run(ns, name string, args ...string) string {
	if l.tb == nil {
		panic("lab: Run needs a lab made by New; use RunErr")
	}
	l.tb.Helper()
	out, err := l.RunErr(ns, name, args...)
	if err != nil {
		l.tb.Fatalf("lab: %v", err)
	}
	return out
}

// RunErr is Run returning the error instead of failing the test.
func (l *Lab) RunErr(ns, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := l.Exec(ctx, ns, name, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("in %s: %s %s: %w: %s", ns, name, strings.Join(args, " "), err,
			strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// Proc is a background process started with Start.
type Proc struct {
	Cmd  *exec.Cmd
	out  syncbuf.Buffer
	done chan struct{}
	err  error
}

// Output returns what the process wrote so far (stdout and stderr together).
func (p *Proc) Output() string { return p.out.String() }

// Wait waits for the process to exit and returns its exit error.
func (p *Proc) Wait() error {
	<-p.done
	return p.err
}

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// WaitOutput waits until the process's output contains substr. It fails when
// the process exits first or the timeout passes.
func (p *Proc) WaitOutput(substr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if strings.Contains(p.out.String(), substr) {
			return nil
		}
		if p.Exited() {
			return fmt.Errorf("%s exited (%v) before printing %q: %s", p.Cmd.Path, p.err, substr, p.Output())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not print %q within %v: %s", p.Cmd.Path, substr, timeout, p.Output())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Start starts name inside ns in the background, collecting its output. The
// process is stopped by Close (the test's cleanup) if still running; Stop
// ends it earlier.
func (l *Lab) Start(ns, name string, args ...string) (*Proc, error) {
	p := &Proc{Cmd: l.Exec(context.Background(), ns, name, args...), done: make(chan struct{})}
	p.Cmd.Stdout = &p.out
	p.Cmd.Stderr = &p.out
	if err := p.Cmd.Start(); err != nil {
		return nil, fmt.Errorf("start in %s: %s: %w", ns, name, err)
	}
	go func() {
		p.err = p.Cmd.Wait()
		close(p.done)
	}()
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
	return p, nil
}

// Stop sends SIGINT to a process started with Start (and its group), waits up
// to 5 s for it to exit, then kills it. It returns the process's exit error,
// ignoring one caused by the signal.
func (l *Lab) Stop(p *Proc) error {
	l.mu.Lock()
	for i, q := range l.procs {
		if q == p {
			l.procs = append(l.procs[:i], l.procs[i+1:]...)
			break
		}
	}
	l.mu.Unlock()
	return p.stop()
}

func (p *Proc) stop() error {
	if p.Exited() {
		return p.err
	}
	_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
	return ignoreSignalExit(p.err)
}

func ignoreSignalExit(err error) error {
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return nil
		}
		// tcpdump and dumpcap exit 0 on SIGINT; other tools may use 130.
		if ee.ExitCode() == 130 {
			return nil
		}
	}
	return err
}

// Do runs f on an OS thread that has joined namespace ns, so sockets f
// creates (net.Listen, net.Dial) belong to that namespace and keep belonging
// to it afterwards. Goroutines started by f run elsewhere and are not in ns.
func (l *Lab) Do(ns string, f func() error) error {
	type result struct{ err error }
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{fmt.Errorf("open current netns: %w", err)}
			return
		}
		defer orig.Close()
		target, err := os.Open("/run/netns/" + ns)
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{fmt.Errorf("open netns %s: %w", ns, err)}
			return
		}
		defer target.Close()
		if err := setns(target); err != nil {
			runtime.UnlockOSThread()
			done <- result{fmt.Errorf("enter netns %s: %w", ns, err)}
			return
		}
		ferr := f()
		if err := setns(orig); err != nil {
			// Leave the thread locked: the runtime discards it when this
			// goroutine ends, so no other goroutine runs in ns by accident.
			done <- result{fmt.Errorf("leave netns %s: %w", ns, err)}
			return
		}
		runtime.UnlockOSThread()
		done <- result{ferr}
	}()
	return (<-done).err
}

func setns(f *os.File) error {
	if sysSetns < 0 {
		return syscall.ENOSYS
	}
	_, _, errno := syscall.RawSyscall(uintptr(sysSetns), f.Fd(), syscall.CLONE_NEWNET, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
