package events

import (
	"fmt"
	"strings"
	"testing"
)

// TestPlainStringSameAsJSONString writes strings through one cache twice
// each, in turns (the second time a plain one is taken from its slot), and
// compares every write with jsonString: a string with bytes to escape must
// never be kept, nor a string at another address taken for a kept one.
func TestPlainStringSameAsJSONString(t *testing.T) {
	long := strings.Repeat("x", 100)
	strs := []string{"rtt_sample", "info", "", "a<b", "line\nbreak", `say "hi"`, "caf\xc3\xa9", "bad\xff",
		"\u2028", TypeRetransmission, long, long[:4], long[1:5], "retransmission"}
	// Strings with the same bytes at new addresses, and same-length
	// strings at kept addresses with other bytes next to them.
	for _, s := range strs[:8] {
		strs = append(strs, strings.Clone(s), strings.ToUpper(s))
	}
	// More strings of one length than slots: some share a slot, the
	// plain and those to escape.
	for i := range 3 * plainSlots {
		strs = append(strs, fmt.Sprintf("a%04d", i), fmt.Sprintf("<%04d", i))
	}
	var c eventCache
	for round := range 3 {
		for i, s := range strs {
			for range 2 {
				got, want := c.plainString(nil, s), jsonString(nil, s)
				if string(got) != string(want) {
					t.Fatalf("round %d, string %d %q: wrote %s, want %s", round, i, s, got, want)
				}
			}
		}
	}
	// The plain strings are kept, the others are not.
	kept := 0
	for _, k := range c.plain {
		if k == "" {
			continue
		}
		kept++
		if string(jsonString(nil, k)) != `"`+k+`"` {
			t.Errorf("kept %q, which needs escaping", k)
		}
	}
	if kept == 0 {
		t.Error("no string kept")
	}
}
