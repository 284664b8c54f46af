//go:build linux

package lab

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestLabScript drives scripts/lab.sh (the lab for humans) through up, loss,
// rate, status and down, and checks the network it builds.
func TestLabScript(t *testing.T) {
	if err := Available(); err != nil {
		t.Skipf("lab: %v", err)
	}
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "..", "scripts", "lab.sh")
	suffix, err := randomSuffix()
	if err != nil {
		t.Fatal(err)
	}
	name := "tvzsh" + suffix
	sh := func(args ...string) (string, error) {
		cmd := exec.Command("bash", append([]string{script}, args...)...)
		cmd.Env = append(os.Environ(), "LAB="+name)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := sh("up"); err != nil {
		t.Fatalf("lab.sh up: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := sh("down"); err != nil {
			t.Errorf("lab.sh down: %v\n%s", err, out)
		}
	})
	l := &Lab{Client: name + "-cli", Router: name + "-rtr", Server: name + "-srv", ServerAddr: ServerAddr}

	var ln net.Listener
	if err := l.Do(l.Server, func() error {
		var err error
		ln, err = net.Listen("tcp", ":5001")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	connect := func() error {
		return l.Do(l.Client, func() error {
			c, err := net.DialTimeout("tcp", "10.200.2.2:5001", 700*time.Millisecond)
			if err == nil {
				c.Close()
			}
			return err
		})
	}
	if err := connect(); err != nil {
		t.Fatalf("connect across the lab: %v", err)
	}
	for _, step := range [][]string{{"loss", "1000", "to-server"}, {"rate", "10mbit", "to-client"}} {
		if out, err := sh(step...); err != nil {
			t.Fatalf("lab.sh %v: %v\n%s", step, err, out)
		}
	}
	if err := connect(); err == nil {
		t.Error("connected through 100 % loss")
	}
	out, err := sh("status")
	if err != nil {
		t.Fatalf("lab.sh status: %v\n%s", err, out)
	}
	for _, want := range []string{"tbf", "rate 10Mbit", `comment "loss-to-server"`} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if out, err := sh("loss", "0"); err != nil {
		t.Fatalf("lab.sh loss 0: %v\n%s", err, out)
	}
	if err := connect(); err != nil {
		t.Errorf("connect after removing the loss: %v", err)
	}
	if out, err := sh("loss", "2000"); err == nil {
		t.Errorf("lab.sh accepted loss 2000:\n%s", out)
	}
}
