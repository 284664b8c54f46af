//go:build linux

package lab

import "testing"

func TestParseQdiscDrops(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want uint64
	}{
		{"tbf", "qdisc tbf 8001: root refcnt 2 rate 20Mbit burst 32Kb lat 150ms\n Sent 123 bytes 4 pkt (dropped 7, overlimits 3 requeues 0)\n", 7},
		{"htb root repeats its leaves", "qdisc htb 1: root refcnt 2 r2q 10 default 0x10\n Sent 9 bytes 2 pkt (dropped 5, overlimits 0 requeues 0)\n" +
			"qdisc pfifo 8002: parent 1:10 limit 1000p\n Sent 5 bytes 1 pkt (dropped 3, overlimits 0 requeues 0)\n" +
			"qdisc pfifo 8003: parent 1:20 limit 1000p\n Sent 4 bytes 1 pkt (dropped 2, overlimits 0 requeues 0)\n", 5},
		{"none", "qdisc noqueue 0: root refcnt 2\n Sent 0 bytes 0 pkt (dropped 0, overlimits 0 requeues 0)\n", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseQdiscDrops(tc.out)
			if err != nil || got != tc.want {
				t.Errorf("got %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}
