package metrics

import (
	"compress/gzip"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// ContentType is the Prometheus text exposition format, version 0.0.4.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// AppendText appends families in the text format 0.0.4.
func AppendText(b []byte, fams []Family) []byte {
	for _, f := range fams {
		b = append(b, "# HELP "...)
		b = append(b, f.Name...)
		b = append(b, ' ')
		b = appendEscaped(b, f.Help, false)
		b = append(b, "\n# TYPE "...)
		b = append(b, f.Name...)
		b = append(b, ' ')
		b = append(b, f.Type...)
		b = append(b, '\n')
		for _, m := range f.Metrics {
			switch f.Type {
			case TypeHistogram:
				for _, bk := range m.Buckets {
					b = appendSample(b, f.Name, "_bucket", m.Labels, "le", formatFloat(bk.UpperBound))
					b = strconv.AppendUint(b, bk.Count, 10)
					b = append(b, '\n')
				}
				b = appendSample(b, f.Name, "_bucket", m.Labels, "le", "+Inf")
				b = strconv.AppendUint(b, m.Count, 10)
				b = append(b, '\n')
				b = appendSumCount(b, f.Name, m)
			case TypeSummary:
				for _, q := range m.Quantiles {
					b = appendSample(b, f.Name, "", m.Labels, "quantile", formatFloat(q.Q))
					b = append(b, formatFloat(q.Value)...)
					b = append(b, '\n')
				}
				b = appendSumCount(b, f.Name, m)
			default:
				b = appendSample(b, f.Name, "", m.Labels, "", "")
				b = append(b, formatFloat(m.Value)...)
				b = append(b, '\n')
			}
		}
	}
	return b
}

func appendSumCount(b []byte, name string, m Metric) []byte {
	b = appendSample(b, name, "_sum", m.Labels, "", "")
	b = append(b, formatFloat(m.Sum)...)
	b = append(b, '\n')
	b = appendSample(b, name, "_count", m.Labels, "", "")
	b = strconv.AppendUint(b, m.Count, 10)
	return append(b, '\n')
}

// appendSample writes a series' name and labels (plus an extra label such
// as le, last) and the space before its value.
func appendSample(b []byte, name, suffix string, labels []Label, extra, extraValue string) []byte {
	b = append(b, name...)
	b = append(b, suffix...)
	if len(labels) > 0 || extra != "" {
		b = append(b, '{')
		for i, l := range labels {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, l.Name...)
			b = append(b, `="`...)
			b = appendEscaped(b, l.Value, true)
			b = append(b, '"')
		}
		if extra != "" {
			if len(labels) > 0 {
				b = append(b, ',')
			}
			b = append(b, extra...)
			b = append(b, `="`...)
			b = append(b, extraValue...)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	return append(b, ' ')
}

// appendEscaped escapes a backslash and a line feed, and in a label value
// also a double quote, as the text format requires.
func appendEscaped(b []byte, s string, quote bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quote:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// formatFloat writes the shortest representation that reads back to the
// same value, and +Inf, -Inf, NaN.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// Handler serves reg at /metrics in the text format, gzip-compressed when
// the scraper accepts it. It counts its own failures in
// promhttp_metric_handler_errors_total, the name dashboards know.
func Handler(reg *Registry) http.Handler {
	errs := NewCounterVec("promhttp_metric_handler_errors_total",
		"Total number of internal errors encountered by the promhttp metric handler.", "cause")
	enc := errs.WithLabelValues("encoding")
	errs.WithLabelValues("gathering")
	reg.Register(errs)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := AppendText(nil, reg.Gather())
		w.Header().Set("Content-Type", ContentType)
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			_, err := zw.Write(body)
			if err == nil {
				err = zw.Close()
			}
			if err != nil {
				enc.Inc()
			}
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		if _, err := w.Write(body); err != nil {
			enc.Inc()
		}
	})
}

func acceptsGzip(h string) bool {
	for _, part := range strings.Split(h, ",") {
		name, params, _ := strings.Cut(part, ";")
		if strings.TrimSpace(name) != "gzip" {
			continue
		}
		// "gzip;q=0" refuses it.
		q, ok := strings.CutPrefix(strings.TrimSpace(params), "q=")
		if !ok {
			return true
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(q), 64)
		return err == nil && v > 0
	}
	return false
}
