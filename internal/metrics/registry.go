package metrics

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// The metric types of the text format.
const (
	TypeCounter   = "counter"
	TypeGauge     = "gauge"
	TypeHistogram = "histogram"
	TypeSummary   = "summary"
)

// A Family is one metric name with its help, type and series, as served.
type Family struct {
	Name, Help, Type string
	Metrics          []Metric
}

// A Metric is one series of a family. Counters and gauges use Value;
// histograms Buckets (cumulative, without +Inf), Count and Sum; summaries
// Quantiles, Count and Sum.
type Metric struct {
	Labels    []Label // sorted by name
	Value     float64
	Buckets   []Bucket
	Quantiles []Quantile
	Count     uint64
	Sum       float64
}

// A Label is a label name and value.
type Label struct{ Name, Value string }

// A Bucket is a histogram's cumulative count of observations ≤ UpperBound.
type Bucket struct {
	UpperBound float64
	Count      uint64
}

// A Quantile is a summary's value at quantile Q.
type Quantile struct{ Q, Value float64 }

// A Collector gives its families at scrape time.
type Collector interface {
	Collect() []Family
}

// Registry is the set of collectors a /metrics endpoint serves.
type Registry struct {
	mu         sync.Mutex
	collectors []Collector
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

// Register adds collectors.
func (r *Registry) Register(cs ...Collector) {
	r.mu.Lock()
	r.collectors = append(r.collectors, cs...)
	r.mu.Unlock()
}

// Gather collects every family with at least one series, sorted by name,
// each family's series sorted by their label values: the same text for the
// same state, scrape after scrape.
func (r *Registry) Gather() []Family {
	r.mu.Lock()
	cs := slices.Clone(r.collectors)
	r.mu.Unlock()
	var out []Family
	for _, c := range cs {
		for _, f := range c.Collect() {
			if len(f.Metrics) > 0 {
				out = append(out, f)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Family) int { return strings.Compare(a.Name, b.Name) })
	for _, f := range out {
		slices.SortStableFunc(f.Metrics, func(a, b Metric) int {
			for i := range min(len(a.Labels), len(b.Labels)) {
				if c := strings.Compare(a.Labels[i].Value, b.Labels[i].Value); c != 0 {
					return c
				}
			}
			return cmp.Compare(len(a.Labels), len(b.Labels))
		})
	}
	return out
}

// labelPairs pairs names with values, sorted by name as the text format
// writes them.
func labelPairs(names, values []string) []Label {
	ls := make([]Label, len(names))
	for i, n := range names {
		ls[i] = Label{n, values[i]}
	}
	slices.SortFunc(ls, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
	return ls
}

// Counter is a monotonic counter, safe for concurrent use. Whole increments
// and fractional ones are kept apart, so a counter of whole numbers stays
// exact however large it grows.
type Counter struct {
	whole  atomic.Uint64
	frac   atomic.Uint64 // float64 bits
	labels []Label
}

// Inc adds 1.
func (c *Counter) Inc() { c.whole.Add(1) }

// Add adds v ≥ 0.
func (c *Counter) Add(v float64) {
	if w := uint64(v); float64(w) == v {
		c.whole.Add(w)
		return
	}
	for {
		old := c.frac.Load()
		if c.frac.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// Value is the counter's current value.
func (c *Counter) Value() float64 {
	return math.Float64frombits(c.frac.Load()) + float64(c.whole.Load())
}

// vec holds the series of one labelled family, created on first use.
type vec[T any] struct {
	name, help, typ string
	labels          []string
	mu              sync.Mutex
	children        map[string]*T
	order           []*T
	newChild        func(labels []Label) *T
}

func (v *vec[T]) with(values []string) *T {
	if len(values) != len(v.labels) {
		panic("metrics: " + v.name + " takes " + strconv.Itoa(len(v.labels)) + " label values, got " + strconv.Itoa(len(values)))
	}
	var key string
	if len(values) == 1 {
		key = values[0]
	} else {
		key = strings.Join(values, "\xff")
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	c := v.children[key]
	if c == nil {
		c = v.newChild(labelPairs(v.labels, values))
		v.children[key] = c
		v.order = append(v.order, c)
	}
	return c
}

// family is the vec's family as served, one metric per series.
func (v *vec[T]) family(metric func(*T) Metric) []Family {
	v.mu.Lock()
	series := slices.Clone(v.order)
	v.mu.Unlock()
	f := Family{Name: v.name, Help: v.help, Type: v.typ}
	for _, c := range series {
		f.Metrics = append(f.Metrics, metric(c))
	}
	return []Family{f}
}

// CounterVec is a counter family with labels.
type CounterVec struct{ v vec[Counter] }

// NewCounterVec makes a counter family; labels are the label names.
func NewCounterVec(name, help string, labels ...string) *CounterVec {
	return &CounterVec{vec[Counter]{name: name, help: help, typ: TypeCounter, labels: labels,
		children: make(map[string]*Counter), newChild: func(ls []Label) *Counter { return &Counter{labels: ls} }}}
}

// WithLabelValues is the series with these label values (in the order of
// the label names), created at 0 on first use.
func (cv *CounterVec) WithLabelValues(values ...string) *Counter { return cv.v.with(values) }

// Collect implements Collector.
func (cv *CounterVec) Collect() []Family {
	return cv.v.family(func(c *Counter) Metric { return Metric{Labels: c.labels, Value: c.Value()} })
}

// Histogram counts observations into buckets, safe for concurrent use.
type Histogram struct {
	mu     sync.Mutex
	bounds []float64
	counts []uint64 // per bucket, the last one +Inf
	count  uint64
	sum    float64
	labels []Label
}

// Observe adds one observation: it lands in the first bucket whose upper
// bound is ≥ v.
func (h *Histogram) Observe(v float64) {
	i := 0
	for i < len(h.bounds) && v > h.bounds[i] {
		i++
	}
	h.mu.Lock()
	h.counts[i]++
	h.count++
	h.sum += v
	h.mu.Unlock()
}

func (h *Histogram) metric() Metric {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := Metric{Labels: h.labels, Count: h.count, Sum: h.sum, Buckets: make([]Bucket, len(h.bounds))}
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i]
		m.Buckets[i] = Bucket{b, cum}
	}
	return m
}

// HistogramVec is a histogram family with labels.
type HistogramVec struct{ v vec[Histogram] }

// NewHistogramVec makes a histogram family with these bucket upper bounds
// (increasing; +Inf is implied).
func NewHistogramVec(name, help string, bounds []float64, labels ...string) *HistogramVec {
	if !slices.IsSorted(bounds) {
		panic("metrics: " + name + ": bucket bounds not increasing")
	}
	return &HistogramVec{vec[Histogram]{name: name, help: help, typ: TypeHistogram, labels: labels,
		children: make(map[string]*Histogram), newChild: func(ls []Label) *Histogram {
			return &Histogram{bounds: bounds, counts: make([]uint64, len(bounds)+1), labels: ls}
		}}}
}

// WithLabelValues is the series with these label values, created empty on
// first use.
func (hv *HistogramVec) WithLabelValues(values ...string) *Histogram { return hv.v.with(values) }

// Collect implements Collector.
func (hv *HistogramVec) Collect() []Family { return hv.v.family((*Histogram).metric) }

// ExponentialBuckets is count upper bounds: start, start×factor, …
func ExponentialBuckets(start, factor float64, count int) []float64 {
	b := make([]float64, count)
	for i := range b {
		b[i] = start
		start *= factor
	}
	return b
}

// CollectorFunc turns a function into a Collector.
type CollectorFunc func() []Family

// Collect implements Collector.
func (f CollectorFunc) Collect() []Family { return f() }
