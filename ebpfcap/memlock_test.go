//go:build linux

package ebpfcap

import "testing"

func TestKernelAtLeast(t *testing.T) {
	for _, tc := range []struct {
		release string
		want    bool
	}{
		{"5.11.0", true},
		{"5.10.209-198.858.amzn2.x86_64", false},
		{"6.1.0-18-amd64", true},
		{"4.18.0-513.el8.x86_64", false},
		{"5.4.0", false},
		{"10.0", true},
		{"5", false},
		{"", false},
	} {
		if got := kernelAtLeast(tc.release, 5, 11); got != tc.want {
			t.Errorf("kernelAtLeast(%q, 5, 11) = %v, want %v", tc.release, got, tc.want)
		}
	}
}
