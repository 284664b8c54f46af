package main

import (
	"bytes"
	"testing"

	"github.com/tcpviz/tcpviz/internal/capture"
)

func TestStatusLine(t *testing.T) {
	var b bytes.Buffer
	l := &statusLine{w: &b}
	l.update(capture.Status{Packets: 10, Bytes: 2048, Drops: 1, File: "/x/ring_00001.pcapng"})
	l.Write([]byte("writing ring_00002.pcapng\n"))
	l.update(capture.Status{Packets: 30, Bytes: 4096, File: "/x/ring_00002.pcapng"})
	l.clear()
	l.clear() // nothing left to erase
	const erase = "\r\x1b[K"
	want := "10 packets (0/s)  2.0KiB written  1 dropped  ring_00001.pcapng" + erase +
		"writing ring_00002.pcapng\n" +
		"30 packets"
	got := b.String()
	if len(got) < len(want) || got[:len(want)] != want {
		t.Fatalf("status output %q, want it to start %q", got, want)
	}
	if n := bytes.Count(b.Bytes(), []byte(erase)); n != 2 {
		t.Errorf("%d erasures, want 2 (before the notice, at the end)", n)
	}
}
