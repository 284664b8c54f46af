//go:build linux

// Package kernelcheck tests, on a real lossy transfer captured by tcpviz's
// own capture (packets plus kernel records), that the retransmissions the
// detectors infer from packets agree with the kernel's retransmission
// records. It is a package of its own so the detectors' unit tests do not
// depend on the capture package.
package kernelcheck

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/detectors"
	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/pipeline"
	"github.com/tcpviz/tcpviz/internal/testutil/lab"
	"github.com/tcpviz/tcpviz/internal/testutil/tsharkoracle"
)

func TestInferredMatchKernelRecords(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: eBPF capture and network namespaces")
	}
	l := lab.New(t, lab.Options{NoOffload: true})
	if err := l.SetBottleneck(lab.ToServer, lab.Bottleneck{Rate: "50mbit", Burst: "32kbit", Latency: "50ms"}); err != nil {
		t.Fatal(err)
	}
	if err := l.SetLoss(lab.ToServer, 10); err != nil {
		t.Fatal(err)
	}
	traffic := lab.BuildTraffic(t)
	out := filepath.Join(t.TempDir(), "sender.pcapng")
	srv, err := l.Start(l.Server, traffic, "server", "-l", ":5001")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitOutput("listening on", 10*time.Second); err != nil {
		t.Fatal(err)
	}

	stop := startCapture(t, l, out, 50*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	l.Run(l.Client, traffic, "client", "-c", l.ServerAddr.String()+":5001", "--bytes", "3000000", "--cc", "cubic")
	time.Sleep(300 * time.Millisecond)
	stop()

	var eng *detectors.Engine
	kernelRetrans := 0
	det := func(emit func(*events.Event)) pipeline.Detector {
		eng = detectors.New(detectors.DefaultConfig(), func(e *events.Event) {
			if e.Type == events.TypeKernelRetransmit {
				kernelRetrans++
			}
			emit(e)
		})
		return eng
	}
	if err := tsharkoracle.RunPipeline(out, det); err != nil {
		t.Fatal(err)
	}
	cmp := eng.Compare()
	if kernelRetrans == 0 || len(cmp) == 0 {
		t.Fatalf("%d kernel retransmit records, %d compared connections: nothing to compare", kernelRetrans, len(cmp))
	}
	for _, c := range cmp {
		t.Logf("flow %d: kernel %d, inferred %d, matched %d, precision %.3f, recall %.3f", c.Flow, c.Kernel, c.Inferred, c.Matched, c.Precision, c.Recall)
		if c.Precision < 0.9 || c.Recall < 0.9 {
			t.Errorf("flow %d: inferred and kernel retransmissions disagree: %+v", c.Flow, c.RetransCheck)
		}
	}
}
