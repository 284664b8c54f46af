//go:build linux

package kernelcheck

import (
	"context"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/capture"
	"github.com/tcpviz/tcpviz/internal/testutil/lab"
)

// startCapture captures on the lab client's interface into out (kernel
// samples every sample, 0 for the default) and returns once the capture is
// ready; stop ends it and fails the test if the capture failed.
func startCapture(t *testing.T, l *lab.Lab, out string, sample time.Duration) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := capture.Run(ctx, capture.Config{Interface: l.ClientIf, Netns: l.Client, Output: out,
			SampleInterval: sample, Ready: func() { close(ready) }})
		done <- err
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("capture ended before it was ready: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("capture not ready after 20s")
	}
	return func() {
		t.Helper()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("capture: %v", err)
		}
	}
}
