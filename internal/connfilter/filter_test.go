package connfilter

import (
	"net/netip"
	"testing"
	"time"
)

func TestParseTimeBound(t *testing.T) {
	cases := []struct {
		in   string
		want TimeBound
		bad  bool
	}{
		{in: "", want: TimeBound{}},
		{in: "60", want: TimeBound{Set: true, Rel: true, Off: time.Minute}},
		{in: "60s", want: TimeBound{Set: true, Rel: true, Off: time.Minute}},
		{in: "1.5", want: TimeBound{Set: true, Rel: true, Off: 1500 * time.Millisecond}},
		{in: "1700000000", want: TimeBound{Set: true, Abs: 1_700_000_000_000_000_000}},
		{in: "2026-01-02T03:04:05Z", want: TimeBound{Set: true, Abs: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()}},
		{in: "-5", bad: true},
		{in: "soon", bad: true},
	}
	for _, c := range cases {
		got, err := ParseTimeBound(c.in)
		if (err != nil) != c.bad || (!c.bad && got != c.want) {
			t.Errorf("%q: %+v, %v; want %+v (error %v)", c.in, got, err, c.want, c.bad)
		}
	}
}

func TestMatch(t *testing.T) {
	client := netip.MustParseAddrPort("10.0.0.1:40000")
	server := netip.MustParseAddrPort("[2001:db8::2]:443")
	cases := []struct {
		name          string
		f             Filter
		localIsServer bool
		want          bool
	}{
		{"everything", Filter{}, false, true},
		{"client address list", Filter{SAddrs: []string{"10.9.9.9", "10.0.0.0/24"}}, false, true},
		{"server glob", Filter{DAddrs: []string{"2001:db8:*"}}, false, true},
		{"server address miss", Filter{DAddrs: []string{"10.0.0.1"}}, false, false},
		{"server port list", Filter{DPorts: []uint16{80, 443}}, false, true},
		{"client port miss", Filter{SPorts: []uint16{443}}, false, false},
		{"either port", Filter{Ports: []uint16{40000}}, false, true},
		{"local is the client", Filter{LocalPorts: []uint16{40000}}, false, true},
		{"local is the server", Filter{LocalPorts: []uint16{40000}}, true, false},
		{"remote is the client", Filter{RemotePorts: []uint16{40000}}, true, true},
		{"flow ids", Filter{Flows: []uint64{2, 7}}, false, true},
		{"flow miss", Filter{Flows: []uint64{2}}, false, false},
	}
	for _, c := range cases {
		if err := c.f.Compile(); err != nil {
			t.Fatal(err)
		}
		got := c.f.MatchConn(7, client, server) && c.f.MatchSides(client.Port(), server.Port(), c.localIsServer)
		if got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	bad := Filter{SAddrs: []string{"nonsense"}}
	if err := bad.Compile(); err == nil {
		t.Error("a bad address compiled")
	}
}
