// Command gencap writes the synthetic connection-heavy captures the
// benchmarks use (scripts/bench-conns.sh):
//
//	gencap -shape scan -n 300000 -o scan.pcap   # SYNs nobody answers, 100k per second
//	gencap -shape short -n 200000 -o short.pcap # 8-packet connections, 20k per second
//	gencap -shape reset -n 200000 -o reset.pcap # 6-packet connections ended by the client's RST
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/tcpviz/tcpviz/internal/testutil/capgen"
)

func main() {
	shape := flag.String("shape", "scan", "scan, short or reset")
	n := flag.Int("n", 300000, "connections")
	gap := flag.Duration("gap", 0, "time between connection starts (default 10µs for scan, 50µs for short and reset)")
	rtt := flag.Duration("rtt", time.Millisecond, "round-trip time of the short connections")
	out := flag.String("o", "", "output file")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "gencap: -o FILE is required")
		os.Exit(2)
	}
	if err := run(*shape, *n, *gap, *rtt, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gencap:", err)
		os.Exit(1)
	}
}

func run(shape string, n int, gap, rtt time.Duration, out string) error {
	f, err := os.Create(out + ".tmp")
	if err != nil {
		return err
	}
	defer os.Remove(out + ".tmp")
	switch shape {
	case "scan":
		if gap == 0 {
			gap = 10 * time.Microsecond
		}
		err = capgen.Scan(f, n, int64(gap))
	case "short":
		if gap == 0 {
			gap = 50 * time.Microsecond
		}
		err = capgen.Short(f, n, int64(gap), int64(rtt))
	case "reset":
		if gap == 0 {
			gap = 50 * time.Microsecond
		}
		err = capgen.Reset(f, n, int64(gap), int64(rtt))
	default:
		err = fmt.Errorf("shape %q: want scan, short or reset", shape)
	}
	if err == nil {
		err = f.Close()
	} else {
		f.Close()
	}
	if err != nil {
		return err
	}
	return os.Rename(out+".tmp", out)
}
