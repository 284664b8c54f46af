// Package topui is the full-screen view of `tcpviz top`: a Bubble Tea
// model over livetable snapshots. The model holds the rows of the last
// snapshot and the user's choices (sort, filter, selection, pause); View is
// a pure function of it.
package topui

import (
	"context"
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/tcpviz/tcpviz/internal/livetable"
)

// Source gives a snapshot each interval.
type Source interface {
	Snapshot() ([]livetable.Row, livetable.Totals)
}

// Model is the view's state.
type Model struct {
	src      Source
	interval time.Duration
	title    string

	rows   []livetable.Row
	totals livetable.Totals
	status string // the feed's last notice or error

	width, height int
	sortCol       int
	ascending     bool
	filter        string
	typing        bool
	paused        bool
	selected      uint64 // flow id of the selected row
	detail        bool
}

type tickMsg time.Time

// StatusMsg carries a notice from the feed (an error ends nothing by itself).
type StatusMsg string

// New returns the model; sortBy is a column name (default SEND/s).
func New(src Source, interval time.Duration, title, sortBy string) Model {
	col := livetable.ColumnIndex(sortBy)
	if col < 0 {
		col = livetable.ColumnIndex("SEND/s")
	}
	return Model{src: src, interval: interval, title: title, sortCol: col, width: 160, height: 40}
}

func (m Model) tick() tea.Cmd {
	return tea.Tick(m.interval, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// Init takes the first snapshot at once.
func (m Model) Init() tea.Cmd {
	return func() tea.Msg { return tickMsg(time.Now()) }
}

// Update handles keys, ticks and resizes.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tickMsg:
		if !m.paused {
			m.rows, m.totals = m.src.Snapshot()
		}
		return m, m.tick()
	case StatusMsg:
		m.status = string(msg)
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tea.KeyPressMsg:
		return m.key(msg)
	}
	return m, nil
}

func (m Model) key(k tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	s := k.String()
	if m.typing {
		switch s {
		case "enter", "esc":
			m.typing = false
			if s == "esc" {
				m.filter = ""
			}
		case "backspace":
			if r := []rune(m.filter); len(r) > 0 {
				m.filter = string(r[:len(r)-1])
			}
		case "ctrl+c":
			return m, tea.Quit
		default:
			if t := k.Text; t != "" {
				m.filter += t
			}
		}
		return m, nil
	}
	switch s {
	case "q", "ctrl+c":
		return m, tea.Quit
	case "/":
		m.typing = true
	case "esc":
		m.filter, m.detail = "", false
	case "space", " ", "p":
		m.paused = !m.paused
	case ">", "right":
		m.sortCol = (m.sortCol + 1) % len(livetable.Columns)
	case "<", "left":
		m.sortCol = (m.sortCol + len(livetable.Columns) - 1) % len(livetable.Columns)
	case "r":
		m.ascending = !m.ascending
	case "down", "j":
		m.move(1)
	case "up", "k":
		m.move(-1)
	case "enter":
		m.detail = !m.detail
	}
	return m, nil
}

// shown is the rows after filter and sort, as drawn.
func (m *Model) shown() []livetable.Row {
	var out []livetable.Row
	for i := range m.rows {
		if m.rows[i].Matches(m.filter) {
			out = append(out, m.rows[i])
		}
	}
	livetable.Sort(out, m.sortCol, m.ascending)
	return out
}

func (m *Model) move(d int) {
	rows := m.shown()
	if len(rows) == 0 {
		return
	}
	at := -1
	for i, r := range rows {
		if r.Flow == m.selected {
			at = i
		}
	}
	at = min(max(at+d, 0), len(rows)-1)
	m.selected = rows[at].Flow
}

var (
	headStyle   = lipgloss.NewStyle().Bold(true).Reverse(true)
	selStyle    = lipgloss.NewStyle().Reverse(true)
	closedStyle = lipgloss.NewStyle().Faint(true)
	retrStyle   = lipgloss.NewStyle().Foreground(lipgloss.Color("1"))
)

// View draws the table, the detail pane and the footer.
func (m Model) View() tea.View {
	v := tea.NewView(m.Render())
	v.AltScreen = true
	v.WindowTitle = "tcpviz top"
	return v
}

// Render is the screen's text.
func (m Model) Render() string {
	rows := m.shown()
	cols := livetable.Visible(m.width)
	var b strings.Builder
	b.WriteString(fmt.Sprintf("tcpviz top — %s — %s\n", m.title, time.Now().Format("15:04:05")))
	b.WriteString(headStyle.Render(pad(livetable.Header(cols, m.sortCol, m.ascending), m.width)))
	b.WriteByte('\n')
	room := m.height - 5
	var sel *livetable.Row
	for i := range rows {
		if rows[i].Flow == m.selected {
			sel = &rows[i]
		}
	}
	if m.detail && sel != nil {
		room -= 8
	}
	for i := range rows {
		if i >= max(room, 1) {
			fmt.Fprintf(&b, "… %d more\n", len(rows)-i)
			break
		}
		line := livetable.Line(&rows[i], cols)
		switch {
		case rows[i].Flow == m.selected:
			line = selStyle.Render(pad(line, m.width))
		case rows[i].Closed:
			line = closedStyle.Render(line)
		case rows[i].RetransNow > 0:
			line = retrStyle.Render(line)
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	if m.filter != "" && len(rows) == 0 {
		fmt.Fprintf(&b, "no connection matches %q\n", m.filter)
	}
	if m.detail && sel != nil {
		b.WriteString(detail(sel))
	}
	b.WriteString(livetable.Footer(m.totals, m.paused))
	b.WriteByte('\n')
	if m.status != "" {
		b.WriteString(livetable.Printable(m.status))
		b.WriteByte('\n')
	}
	if m.typing {
		fmt.Fprintf(&b, "filter: %s▏ (enter to keep, esc to clear)", m.filter)
	} else {
		b.WriteString("keys: ↑↓ select  enter detail  </> sort column  r reverse  / filter  space pause  q quit")
		if m.filter != "" {
			fmt.Fprintf(&b, "  [filter: %s]", m.filter)
		}
	}
	return b.String()
}

func detail(r *livetable.Row) string {
	var b strings.Builder
	fmt.Fprintf(&b, "── flow %d  %s %s → %s  %s\n", r.Flow, livetable.Printable(r.Comm), r.Local, r.Remote, r.State)
	fmt.Fprintf(&b, "cwnd  %s  %s\n", livetable.Sparkline(r.CwndHist), cwndNow(r))
	fmt.Fprintf(&b, "srtt  %s  %.2f ms\n", livetable.Sparkline(r.SRTTHist), r.SRTTms)
	fmt.Fprintf(&b, "rate  %s  %s/s\n", livetable.Sparkline(r.RateHist), livetable.Bytes(r.SendRate+r.RecvRate))
	recent := r.Recent
	if len(recent) > 3 {
		recent = recent[len(recent)-3:]
	}
	if len(recent) == 0 {
		b.WriteString("no findings yet\n")
	}
	for _, e := range recent {
		b.WriteString(e + "\n")
	}
	for i := len(recent); i < 3; i++ {
		b.WriteByte('\n')
	}
	return b.String()
}

func cwndNow(r *livetable.Row) string {
	if !r.Kernel {
		return "(no kernel records)"
	}
	return fmt.Sprintf("%d segments", r.Cwnd)
}

func pad(s string, width int) string {
	if n := lipgloss.Width(s); n < width {
		return s + strings.Repeat(" ", width-n)
	}
	return s
}

// Run shows the view until the user quits or ctx ends. The terminal is
// restored on return, on signals and on panics (Bubble Tea does both).
func Run(ctx context.Context, m Model, status <-chan string) error {
	p := tea.NewProgram(m, tea.WithContext(ctx))
	go func() {
		for s := range status {
			p.Send(StatusMsg(s))
		}
	}()
	_, err := p.Run()
	if err != nil && ctx.Err() != nil {
		return nil
	}
	return err
}
