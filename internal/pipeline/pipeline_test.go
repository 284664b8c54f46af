package pipeline

import (
	"fmt"
	"testing"

	"github.com/tcpviz/tcpviz/internal/conntrack"
)

func TestWarningsAreBounded(t *testing.T) {
	p := New(Config{Flows: conntrack.DefaultConfig()})
	for i := 0; i < 10*maxWarnings; i++ {
		p.Warn(fmt.Sprintf("warning %d", i))
	}
	w := p.Stats().Warnings
	if len(w) != maxWarnings+1 || w[0] != "warning 0" || w[maxWarnings] != "further warnings not kept" {
		t.Errorf("%d warnings kept, last %q", len(w), w[len(w)-1])
	}
}
