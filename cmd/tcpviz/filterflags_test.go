package main

import (
	"slices"
	"testing"

	"github.com/spf13/pflag"
)

// TestFlowFlagRepeats: --flow may be given several times (report opens on
// the first one's page) and takes lists, in the order given.
func TestFlowFlagRepeats(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []uint64
	}{
		{[]string{"--flow", "3"}, []uint64{3}},
		{[]string{"--flow", "3", "--flow", "7"}, []uint64{3, 7}},
		{[]string{"--flow", "3,5", "--flow", "7"}, []uint64{3, 5, 7}},
		{nil, nil},
	} {
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		f := addFilterFlags(fs, true)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		flt, err := f.compile(true)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(flt.Flows, tc.want) {
			t.Errorf("%v: flows %v, want %v", tc.args, flt.Flows, tc.want)
		}
	}
}
