package parquetout_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/decode"
	"github.com/tcpviz/tcpviz/pcapng"
	"github.com/tcpviz/tcpviz/pcapng/kblock"
)

// withKernelRecords copies a sample into a pcapng file with kernel records
// between its packets, as tcpviz capture writes them on the sending host:
// a state change at the start, a probe every 40 packets with a varying
// congestion window, and a retransmission record every 300 packets.
// The samples themselves come from dumpcap and carry none.
func withKernelRecords(t *testing.T, sample string) string {
	t.Helper()
	in, err := os.Open(sample)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out := filepath.Join(t.TempDir(), "kernel-"+filepath.Base(sample))
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := pcapng.NewWriter(f, pcapng.WriterOptions{Application: "test"})
	if err != nil {
		t.Fatal(err)
	}
	r := pcapng.NewReader(in, sample)
	dec := decode.New()
	ids := map[*pcapng.Interface]uint32{}
	var pk events.Packet
	n := 0
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.Type != pcapng.RecordPacket {
			continue
		}
		id, ok := ids[rec.Interface]
		if !ok {
			if id, err = w.AddInterface(pcapng.Interface{LinkType: rec.Interface.LinkType, SnapLen: rec.Interface.SnapLen}); err != nil {
				t.Fatal(err)
			}
			ids[rec.Interface] = id
		}
		if err := w.WritePacket(id, rec.TS, rec.Data, rec.OrigLen, pcapng.PacketOptions{}); err != nil {
			t.Fatal(err)
		}
		if ok, _ := dec.Decode(rec.Interface.LinkType, rec.Data, rec.OrigLen, &pk); !ok || pk.Len == 0 {
			continue
		}
		n++
		k := kblock.Record{TS: rec.TS + 1000, Cookie: 1<<63 + 7, Saddr: pk.Src, Daddr: pk.Dst, Sport: pk.SrcPort, Dport: pk.DstPort}
		switch {
		case n == 1:
			k.Kind, k.OldState, k.NewState, k.PID, k.Comm = kblock.KindState, 2, 1, 4242, "sender"
		case n%300 == 0:
			k.Kind, k.Seq, k.EndSeq, k.Segs = kblock.KindRetransmit, pk.Seq, pk.Seq+pk.Len, 1
		case n%40 == 0:
			k.Kind, k.SndCwnd, k.Ssthresh, k.SRTTus, k.PacingRate = kblock.KindProbe, uint32(n%97+2), 30, 1500+uint32(n%13), 1<<40
			k.Has, k.BusyUS, k.RwndLimitedUS, k.CwndLimited = kblock.HasChrono|kblock.HasCwndLimited, uint64(n)*100, uint64(n), n%80 == 0
		default:
			continue
		}
		if err := w.WriteCustom(kblock.PEN, kblock.Append(nil, &k), true); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}
