package viz

import (
	"bytes"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/session"
)

// EChartsVersion is the vendored ECharts release (viz/assets/README.md).
const EChartsVersion = "5.6.0"

//go:embed assets/echarts.min.js
var echartsJS string

// connPageJS draws the views (the connection pages) and wires the clicks
// that open them.
//
//go:embed assets/connpage.js
var connPageJS string

// compareJS draws the compare views (#compare=, #pair=): viz/compare.go.
//
//go:embed assets/compare.js
var compareJS string

// Page files written by WriteFiles.
const (
	FileReport   = "report.html"
	FileTimeline = "timeline.html"
	FileSummary  = "summary.html"
)

type pageKind int

const (
	pageReport pageKind = iota
	pageTimeline
	pageSummary
)

type chartView struct {
	ID       string
	Inferred bool
	Band     *Band
	Element  template.HTML
	Script   template.HTML
}

type sectionView struct {
	ID, Title, Note string
	Charts          []chartView
	Table           bool // the connections table follows the charts
}

// clockView is the page's time origin: the capture's first packet.
type clockView struct {
	OriginNS string `json:"origin_ns"`
	Origin   string `json:"origin"`
}

type pageView struct {
	Title     string
	Nonce     string
	Heading   string
	Source    string
	Generated string
	ECharts   template.JS
	ConnJS    template.JS
	Data      template.JS // tcpvizData: JSON from Report.SetData
	Report    bool        // report.html: the page that holds the views
	FlowHref  string      // where a connection's page is: "" on report.html
	Tips      map[string][][]any
	Clock     clockView
	R         *Report
	Overview  bool
	Sections  []sectionView
	Missing   []string
	Links     []string
}

// view picks the sections a page shows and renders their charts.
func (r *Report) view(kind pageKind) pageView {
	nonce := newNonce()
	v := pageView{Title: r.Title, Nonce: nonce, Heading: r.Title, Source: r.Source,
		Generated: r.Generated.Format(time.RFC3339), ECharts: template.JS(echartsJS), Tips: r.tips, R: r,
		ConnJS: template.JS(connPageJS + "\n" + compareJS), Data: template.JS("{}"), Report: kind == pageReport,
		Clock:   clockView{OriginNS: strconv.FormatInt(r.Origin, 10), Origin: time.Unix(0, r.Origin).UTC().Format("2006-01-02 15:04:05.000000000 UTC")},
		Missing: r.Missing}
	include := func(id string) bool {
		switch kind {
		case pageTimeline:
			return id == ChartTimeline
		case pageSummary:
			return id == ChartOverview || id == ChartSummary
		}
		return true
	}
	v.Overview = kind != pageTimeline
	if kind == pageReport {
		v.Data = r.pageData() // the views live in report.html only
	} else {
		v.FlowHref = FileReport
	}
	switch kind {
	case pageTimeline:
		v.Heading += " — timeline"
		v.Links = []string{FileReport, FileSummary}
	case pageSummary:
		v.Heading += " — summary"
		v.Links = []string{FileReport, FileTimeline}
	default:
		v.Links = []string{FileTimeline, FileSummary}
	}
	tableShown := false
	for _, s := range r.Sections {
		if !include(s.ID) {
			continue
		}
		sv := sectionView{ID: s.ID, Title: s.Title, Note: s.Note, Table: s.ID == ChartSummary}
		tableShown = tableShown || sv.Table
		for _, ch := range s.Charts {
			sn := ch.r.RenderSnippet()
			sv.Charts = append(sv.Charts, chartView{ID: ch.ID, Inferred: ch.Inferred, Band: ch.Band,
				Element: template.HTML(sn.Element), Script: template.HTML(addNonce(sn.Script, nonce))})
		}
		v.Sections = append(v.Sections, sv)
	}
	if !tableShown && kind != pageTimeline {
		v.Sections = append(v.Sections, sectionView{ID: "connections", Title: "Connections", Table: true})
	}
	return v
}

// pageData is the tcpvizData object: each SetData value under its key.
func (r *Report) pageData() template.JS {
	keys := make([]string, 0, len(r.data))
	for k := range r.data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, k)
		b = append(b, ':')
		b = append(b, r.data[k]...)
	}
	b = append(b, '}')
	return template.JS(b)
}

// render writes one page.
func (r *Report) render(w io.Writer, kind pageKind) error {
	if err := pageTpl().Execute(w, r.view(kind)); err != nil {
		return fmt.Errorf("render page: %w", err)
	}
	return nil
}

// RenderReport writes report.html (every section) to w.
func (r *Report) RenderReport(w io.Writer) error { return r.render(w, pageReport) }

// WriteFiles writes timeline.html, summary.html and report.html into dir,
// each through a temporary file renamed into place, and returns their paths.
func (r *Report) WriteFiles(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("report directory: %w", err)
	}
	var out []string
	for _, p := range []struct {
		name string
		kind pageKind
	}{{FileTimeline, pageTimeline}, {FileSummary, pageSummary}, {FileReport, pageReport}} {
		path := filepath.Join(dir, p.name)
		var buf bytes.Buffer
		if err := r.render(&buf, p.kind); err != nil {
			return out, fmt.Errorf("%s: %w", path, err)
		}
		if err := session.WriteFile(path, buf.Bytes()); err != nil {
			return out, err
		}
		out = append(out, path)
	}
	return out, nil
}

// pageTpl is parsed on first use, not at start-up: every command links
// viz, few write a page.
var pageTpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("page").Funcs(template.FuncMap{
		"bytes":   humanBytes,
		"ms":      func(v float64) string { return fmtMS(v) },
		"pct":     func(v float64) string { return fmt.Sprintf("%.2f%%", v) },
		"dur":     func(d time.Duration) string { return d.Round(time.Millisecond).String() },
		"upper":   strings.ToUpper,
		"evlist":  evList,
		"state":   events.ConnState,
		"zerowin": events.ZeroWindowLabel,
		// spanStyle places a band span; every value is a number or one of
		// limitColor's, so the style is built here rather than escaped.
		"spanStyle": func(s BandSpan) template.CSS {
			return template.CSS(fmt.Sprintf("left:%.4f%%;width:%.4f%%;background:%s", s.Left, s.Width, s.Color))
		},
		"add":     func(a, b uint64) uint64 { return a + b },
		"seconds": seconds,
	}).Parse(pageHTML))
})

// humanBytes writes a size in IEC units (KiB, MiB, GiB), the one unit
// system of every tcpviz output.
func humanBytes(v uint64) string {
	f := float64(v)
	for _, u := range []string{"B", "KiB", "MiB", "GiB", "TiB"} {
		if f < 1024 || u == "TiB" {
			if u == "B" {
				return fmt.Sprintf("%d B", v)
			}
			return fmt.Sprintf("%.1f %s", f, u)
		}
		f /= 1024
	}
	return ""
}

func fmtMS(v float64) string {
	if v == 0 {
		return "–"
	}
	return fmt.Sprintf("%.3g", v)
}

func evList(m map[string]int) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// newNonce returns the per-page script nonce of the Content-Security-Policy:
// only the page's own scripts run, so markup that slipped into the page could
// not execute even if escaping failed somewhere.
func newNonce() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("nonce: %v", err)) // crypto/rand does not fail on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func addNonce(script, nonce string) string {
	return strings.ReplaceAll(script, `<script type="text/javascript">`, `<script type="text/javascript" nonce="`+nonce+`">`)
}
