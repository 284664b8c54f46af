package robust

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"testing"

	"github.com/tcpviz/tcpviz/internal/capture"
)

// TestMain doubles as a capture process for the crash tests: with
// TCPVIZ_ROBUST_HELPER=capture the test binary runs capture.Run the way
// `tcpviz capture` does (stopped by SIGINT or SIGTERM) so that a test can
// kill it, fill its disk or interrupt it.
func TestMain(m *testing.M) {
	if os.Getenv("TCPVIZ_ROBUST_HELPER") == "capture" {
		os.Exit(captureHelper())
	}
	os.Exit(m.Run())
}

func captureHelper() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rotate, _ := strconv.ParseInt(os.Getenv("CAP_ROTATE"), 10, 64)
	cfg := capture.Config{
		Interface:   os.Getenv("CAP_IFACE"),
		Netns:       os.Getenv("CAP_NETNS"),
		Output:      os.Getenv("CAP_OUT"),
		RotateBytes: rotate,
		Log:         os.Stderr,
		Ready:       func() { fmt.Println("ready") },
	}
	sum, err := capture.Run(ctx, cfg)
	fmt.Printf("summary:\n%s\n", sum)
	if err != nil {
		fmt.Fprintf(os.Stderr, "tcpviz: %v\n", err)
		return 1
	}
	return 0
}
