package pairing

import (
	"context"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tsharkSeg is one segment as tshark prints it.
type tsharkSeg struct {
	frame uint64
	ts    float64 // seconds
	src   string  // ip:port
	key   string  // seq, ack, len, IP ID and SYN/FIN/RST: one transmission
	data  bool
}

func tsharkSegs(t *testing.T, path string) []tsharkSeg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "tshark", "-n", "-r", path, "-Y", "tcp", "-T", "fields", "-E", "occurrence=f",
		"-e", "frame.number", "-e", "frame.time_epoch", "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport",
		"-e", "tcp.seq_raw", "-e", "tcp.ack_raw", "-e", "tcp.len", "-e", "ip.id", "-e", "tcp.flags.syn", "-e", "tcp.flags.fin",
		"-e", "tcp.flags.reset").Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", path, err)
	}
	var segs []tsharkSeg
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 12 {
			t.Fatalf("tshark line %q", line)
		}
		frame, _ := strconv.ParseUint(f[0], 10, 64)
		ts, _ := strconv.ParseFloat(f[1], 64)
		host := f[2] + f[3]
		syn, fin := f[9] == "1" || f[9] == "True", f[10] == "1" || f[10] == "True"
		ack := f[6]
		data := f[7] != "0" || syn || fin
		if data {
			ack = "" // a retransmission may carry a newer ACK: like ours, data keys on seq and length
		}
		segs = append(segs, tsharkSeg{frame: frame, ts: ts, src: host + ":" + f[4], data: data,
			key: strings.Join([]string{f[5], ack, f[7], f[8], f[9], f[10], f[11]}, "/")})
	}
	return segs
}

// TestSamplesAgainstTshark pairs the samples that hold one connection
// captured at both ends and checks, per direction, the lost segments and
// the median one-way delay against the same comparison made from tshark's
// fields: segments of the sender's capture whose (seq, ack, length, IP ID,
// flags) the receiver's capture lacks.
func TestSamplesAgainstTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("needs tshark (Debian package tshark)")
	}
	for _, pair := range [][2]string{
		{"cubic-loss-sender.pcapng", "cubic-loss-receiver.pcapng"},
		{"reorder-sender.pcapng", "reorder-receiver.pcapng"},
		{"seq-wrap-sender.pcap", "seq-wrap-receiver.pcapng"},
	} {
		t.Run(pair[0], func(t *testing.T) {
			a, b := "../../samples/"+pair[0], "../../samples/"+pair[1]
			r := Pair(read(t, a), read(t, b))
			if len(r.Conns) != 1 {
				t.Fatalf("%d connections paired, want 1", len(r.Conns))
			}
			c := &r.Conns[0]
			if c.NearClient != "a" || c.Position != PositionHandshake {
				t.Errorf("near client %s (%s), want a from the handshake", c.NearClient, c.Position)
			}
			ta, tb := tsharkSegs(t, a), tsharkSegs(t, b)
			for d, from := range []string{c.Client, c.Server} {
				up, down := ta, tb
				if d == 1 {
					up, down = tb, ta
				}
				arrived := map[string][]float64{}
				for _, s := range down {
					if s.src == from {
						arrived[s.key] = append(arrived[s.key], s.ts)
					}
				}
				var lostData []uint64
				lost := 0
				var delays []float64
				for _, s := range up {
					if s.src != from {
						continue
					}
					if q := arrived[s.key]; len(q) > 0 {
						delays = append(delays, q[0]-s.ts)
						arrived[s.key] = q[1:]
						continue
					}
					lost++
					if s.data {
						lostData = append(lostData, s.frame)
					}
				}
				st := &c.Dirs[d]
				if st.DataLost+st.ACKsLost != lost || !slices.Equal(st.LostFrames, lostData[:min(len(lostData), MaxListed)]) {
					t.Errorf("%s: lost %d data + %d ACKs, frames %v\ntshark: %d lost, data frames %v", st.Dir, st.DataLost, st.ACKsLost, st.LostFrames, lost, lostData)
				}
				slices.Sort(delays)
				want := delays[int(0.5*float64(len(delays)-1))] * 1000
				if st.Delay.Samples != len(delays) || st.Delay.P50MS < want-0.002 || st.Delay.P50MS > want+0.002 {
					t.Errorf("%s: one-way delay median %.3f ms over %d, tshark's %.3f ms over %d", st.Dir, st.Delay.P50MS, st.Delay.Samples, want, len(delays))
				}
				t.Logf("%s: %d data sent, %d lost; %d ACKs, %d lost; one-way delay median %.3f ms", st.Dir, st.DataSent, st.DataLost, st.ACKsSent, st.ACKsLost, st.Delay.P50MS)
			}
		})
	}
}
