package pcapng_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"

	"github.com/tcpviz/tcpviz/pcapng"
)

// Write a packet and a custom block, then read them back with their frame
// numbers as Wireshark shows them.
func Example() {
	var file bytes.Buffer
	w, err := pcapng.NewWriter(&file, pcapng.WriterOptions{Application: "example"})
	if err != nil {
		log.Fatal(err)
	}
	id, _ := w.AddInterface(pcapng.Interface{LinkType: 1, SnapLen: 96, Name: "eth0"})
	w.WritePacket(id, 1_700_000_000_000_000_001, make([]byte, 60), 60, pcapng.PacketOptions{Flags: pcapng.FlagInbound})
	w.WriteCustom(32473, []byte("kernel record"), true)
	w.WriteStats(id, 1_700_000_000_000_000_002, pcapng.InterfaceStats{Received: 1})
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	r := pcapng.NewReader(&file, "example.pcapng")
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if errors.Is(err, pcapng.ErrNeedMore) {
			log.Fatal(err) // at the real end of a file: truncated
		}
		if err != nil {
			log.Fatal(err)
		}
		switch rec.Type {
		case pcapng.RecordPacket:
			fmt.Printf("frame %d: %d-byte packet on %s at %d\n", rec.Frame, len(rec.Data), rec.Interface.Name, rec.TS)
		case pcapng.RecordCustom:
			fmt.Printf("frame %d: custom block, PEN %d, %q\n", rec.Frame, rec.PEN, bytes.TrimRight(rec.CustomData, "\x00"))
		case pcapng.RecordStats:
			fmt.Printf("stats after frame %d: %d received\n", rec.Frame, rec.Stats.Received)
		}
	}
	// Output:
	// frame 1: 60-byte packet on eth0 at 1700000000000000001
	// frame 2: custom block, PEN 32473, "kernel record"
	// stats after frame 2: 1 received
}
