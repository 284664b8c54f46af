//go:build linux

package ebpfcap

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// inFreshNetns runs f on a thread inside a new network namespace with lo up,
// so qdiscs and filters never touch the host's interfaces.
func inFreshNetns(t *testing.T, f func() error) {
	t.Helper()
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := "tvz-cls-" + hex.EncodeToString(suffix)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Skipf("needs iproute2 to create a network namespace: %v: %s", err, out)
	}
	defer exec.Command("ip", "netns", "del", name).Run()
	done := make(chan error, 1)
	go func() {
		// The thread never leaves the namespace; it is discarded when
		// this goroutine ends still locked.
		runtime.LockOSThread()
		ns, err := os.Open("/run/netns/" + name)
		if err != nil {
			done <- err
			return
		}
		defer ns.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- fmt.Errorf("setns: %w", err)
			return
		}
		if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
			done <- fmt.Errorf("lo up: %v: %s", err, out)
			return
		}
		done <- f()
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// The cls_bpf fallback (kernels before 6.6), forced on a kernel with tcx:
// both hooks see the packets, and closing removes the qdisc it added.
func TestClsBPFFallback(t *testing.T) {
	needRoot(t)
	inFreshNetns(t, func() error {
		lo, err := net.InterfaceByName("lo")
		if err != nil {
			return err
		}
		m, err := Load(Options{Ifindex: lo.Index, L2Len: 14, Ingress: true, Egress: true, ForceClsBPF: true,
			NoKernelRecords: true})
		if err != nil {
			return err
		}
		if m.Mode != ModeClsBPF {
			m.Close()
			return fmt.Errorf("mode %q", m.Mode)
		}
		// exec.Command runs tc in a child, which inherits this thread's namespace.
		qd, _ := exec.Command("tc", "qdisc", "show", "dev", "lo").CombinedOutput()
		if !strings.Contains(string(qd), "clsact") {
			m.Close()
			return fmt.Errorf("no clsact qdisc after attach: %s", qd)
		}
		transfer(t, 200_000)
		pkts, _ := drain(t, m)
		cnt, _ := m.Counters()
		if err := m.Close(); err != nil {
			return fmt.Errorf("close: %w", err)
		}
		in, out := 0, 0
		for _, p := range pkts {
			switch p.Dir {
			case DirInbound:
				in++
			case DirOutbound:
				out++
			}
		}
		// On lo every packet leaves and comes back in: both hooks see it,
		// ingress after software segmentation (so possibly more packets).
		if out < 6 || in < out {
			return fmt.Errorf("%d packets out, %d in; want at least 6 out and as many in (counters %+v)", out, in, cnt)
		}
		qd, _ = exec.Command("tc", "qdisc", "show", "dev", "lo").CombinedOutput()
		if strings.Contains(string(qd), "clsact") {
			return fmt.Errorf("clsact qdisc left behind: %s", qd)
		}
		t.Logf("cls_bpf: %d packets out, %d in", out, in)
		return nil
	})
}
