package metrics

import (
	"os/exec"
	"testing"
)

// TestShippedRules checks docs/prometheus/tcpviz-rules.yml with promtool
// and runs its unit tests (tcpviz-rules.test.yml): each rule fires on the
// series it is meant for and stays quiet on the others.
func TestShippedRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian package prometheus; .ci/run installs it)")
	}
	for _, args := range [][]string{
		{"check", "rules", "tcpviz-rules.yml"},
		{"test", "rules", "tcpviz-rules.test.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "../../docs/prometheus"
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}
