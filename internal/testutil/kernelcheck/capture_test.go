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
// ready; stop ends it, fails the test if the capture failed, and returns
// the capture's summary.
func startCapture(t *testing.T, l *lab.Lab, out string, sample time.Duration) (stop func() capture.Summary) {
	t.Helper()
	c := capturetest.Start(t, func(ctx context.Context, ready func()) (capture.Summary, error) {
		return capture.Run(ctx, capture.Config{Interface: l.ClientIf, Netns: l.Client, Output: out,
			SampleInterval: sample, Ready: ready})
	})
	return func() capture.Summary {
		t.Helper()
		sum, err := c.Stop()
		if err != nil {
			t.Fatalf("capture: %v", err)
		}
		return sum
	}
}
