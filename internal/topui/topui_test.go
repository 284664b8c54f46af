package topui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/tcpviz/tcpviz/internal/livetable"
)

type fixed []livetable.Row

func (f fixed) Snapshot() ([]livetable.Row, livetable.Totals) {
	return append([]livetable.Row(nil), f...), livetable.Totals{Connections: len(f), Interval: time.Second}
}

func press(m Model, keys ...string) Model {
	for _, k := range keys {
		var msg tea.KeyPressMsg
		switch k {
		case "enter":
			msg = tea.KeyPressMsg{Code: tea.KeyEnter}
		case "esc":
			msg = tea.KeyPressMsg{Code: tea.KeyEscape}
		case "down":
			msg = tea.KeyPressMsg{Code: tea.KeyDown}
		default:
			msg = tea.KeyPressMsg{Code: []rune(k)[0], Text: k}
		}
		next, _ := m.Update(msg)
		m = next.(Model)
	}
	return m
}

// order is the flow ids in the order the screen shows them.
func order(m Model) []uint64 {
	var ids []uint64
	for _, r := range m.shown() {
		ids = append(ids, r.Flow)
	}
	return ids
}

func TestKeys(t *testing.T) {
	src := fixed{
		{Flow: 1, Comm: "curl", Local: "10.0.0.1:1", Remote: "10.0.0.9:443", SendRate: 100, Retrans: 9},
		{Flow: 2, Comm: "iperf3", Local: "10.0.0.1:2", Remote: "10.0.0.9:5201", SendRate: 900, Retrans: 1},
	}
	m := New(src, time.Second, "test", "send/s")
	next, _ := m.Update(tickMsg(time.Now()))
	m = next.(Model)
	if got := order(m); got[0] != 2 {
		t.Fatalf("sorted by send rate: %v, want flow 2 first", got)
	}
	// Move the sort column right until RETR, then reverse it.
	for livetable.Columns[m.sortCol].Name != "RETR" {
		m = press(m, ">")
	}
	if got := order(m); got[0] != 1 {
		t.Errorf("sorted by retransmissions: %v, want flow 1 first", got)
	}
	if m = press(m, "r"); order(m)[0] != 2 {
		t.Errorf("reversed: %v, want flow 2 first", order(m))
	}
	m = press(m, "/", "i", "p", "e", "r", "enter")
	if got := order(m); len(got) != 1 || got[0] != 2 {
		t.Errorf("filter 'iper': %v, want only flow 2", got)
	}
	if !strings.Contains(m.Render(), "[filter: iper]") {
		t.Error("the active filter is not shown")
	}
	m = press(m, "down", "enter")
	if out := m.Render(); !strings.Contains(out, "── flow 2") {
		t.Errorf("detail pane of the selected flow missing:\n%s", out)
	}
	m = press(m, "esc", "/", "n", "o", "p", "e", "enter")
	if !strings.Contains(m.Render(), `no connection matches "nope"`) {
		t.Error("a filter that matches nothing must say so")
	}
	// Paused: a new snapshot does not replace the rows.
	m = press(m, "esc", " ")
	m.src = fixed{}
	next, _ = m.Update(tickMsg(time.Now()))
	if m = next.(Model); len(m.rows) != 2 {
		t.Errorf("paused view took a new snapshot (%d rows)", len(m.rows))
	}
	if _, cmd := m.Update(tea.KeyPressMsg{Code: 'q', Text: "q"}); cmd == nil {
		t.Error("q does not quit")
	}
}
