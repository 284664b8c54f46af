//go:build linux

package kernelcheck

import (
	"context"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/capture"
	"github.com/tcpviz/tcpviz/internal/testutil/capturetest"
	"github.com/tcpviz/tcpviz/internal/testutil/lab"
)

// startCapture captures on the lab client's interface into out (kernel
// samples every sample, 0 for the default) and returns once the capture is
// ready; stop ends it and fails the test if the capture failed.
func startCapture(t *testing.T, l *lab.Lab, out string, sample time.Duration) (stop func()) {
	t.Helper()
	c := capturetest.Start(t, func(ctx context.Context, ready func()) (capture.Summary, error) {
		return capture.Run(ctx, capture.Config{Interface: l.ClientIf, Netns: l.Client, Output: out,
			SampleInterval: sample, Ready: ready})
	})
	return func() {
		t.Helper()
		if _, err := c.Stop(); err != nil {
			t.Fatalf("capture: %v", err)
		}
	}
}
