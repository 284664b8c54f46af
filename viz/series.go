package viz

import (
	"math"
	"strconv"
	"strings"
)

// points marshals as [[t,v],...], the most compact data form ECharts takes.
type points []point

// appendNum writes v with at most prec decimals (trailing zeros dropped).
func appendNum(b []byte, v float64, prec int) []byte {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return append(b, "null"...)
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.AppendInt(b, int64(v), 10)
	}
	n := len(b)
	b = strconv.AppendFloat(b, v, 'f', prec, 64)
	for len(b) > n && b[len(b)-1] == '0' {
		b = b[:len(b)-1]
	}
	if b[len(b)-1] == '.' {
		b = b[:len(b)-1]
	}
	return b
}

// Decimals kept in chart data: times in seconds to the nanosecond's
// thousandth (µs is too coarse for loopback), values to three places.
const (
	timePrec  = 9
	valuePrec = 3
)

func (ps points) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(ps)*24+2)
	b = append(b, '[')
	for i, p := range ps {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = appendNum(b, p.T, timePrec)
		b = append(b, ',')
		b = appendNum(b, p.V, valuePrec)
		b = append(b, ']')
	}
	return append(b, ']'), nil
}

// rows marshals as [[t,b,c...],...] (t a time in seconds); NaN cells become
// null, which breaks a line (used for SACK blocks drawn as separate vertical
// strokes).
type rows [][]float64

func (rs rows) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(rs)*32+2)
	b = append(b, '[')
	for i, r := range rs {
		if i > 0 {
			b = append(b, ',')
		}
		if r == nil {
			b = append(b, "null"...)
			continue
		}
		b = append(b, '[')
		for j, v := range r {
			if j > 0 {
				b = append(b, ',')
			}
			prec := valuePrec
			if j == 0 {
				prec = timePrec
			}
			b = appendNum(b, v, prec)
		}
		b = append(b, ']')
	}
	return append(b, ']'), nil
}

// safeLabel keeps a string from a capture fit for chart options: go-echarts
// writes options without HTML escaping and rewrites "__f__" markers, so
// anything outside a conservative character set is replaced. Text shown in
// HTML goes through html/template instead and keeps its characters.
func safeLabel(s string) string {
	const max = 80
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= max {
			b.WriteString("…")
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9',
			strings.ContainsRune(" .:-[]/#()→,%=+", r):
			b.WriteRune(r)
		case r == '_':
			b.WriteRune(r)
		default:
			b.WriteRune('?')
		}
	}
	return strings.ReplaceAll(b.String(), "__f__", "_?f?_")
}
