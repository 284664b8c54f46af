package parquetout

import "github.com/tcpviz/tcpviz/events"

// The flows table keeps each direction's limits as a struct column
// (limits_c2s, limits_s2c; null when the direction carried no data): engines
// read limits_c2s.seconds.rwnd in DuckDB, Spark and Trino alike.

// LimitSecondsCol is events.LimitSeconds.
type LimitSecondsCol struct {
	Rwnd      float64 `parquet:"rwnd"`
	Cwnd      float64 `parquet:"cwnd"`
	Sndbuf    float64 `parquet:"sndbuf"`
	App       float64 `parquet:"app"`
	Recovery  float64 `parquet:"recovery"`
	Handshake float64 `parquet:"handshake"`
}

// KernelChronoCol is events.KernelChrono.
type KernelChronoCol struct {
	Busy          float64 `parquet:"busy"`
	RwndLimited   float64 `parquet:"rwnd_limited"`
	SndbufLimited float64 `parquet:"sndbuf_limited"`
}

// PacketLimitsCol is events.PacketLimits.
type PacketLimitsCol struct {
	Seconds   LimitSecondsCol `parquet:"seconds"`
	Dominant  string          `parquet:"dominant"`
	Share     float64         `parquet:"share"`
	Agreement float64         `parquet:"agreement"`
}

// DirLimitsCol is events.DirLimits.
type DirLimitsCol struct {
	Source         string           `parquet:"source"`
	Seconds        LimitSecondsCol  `parquet:"seconds"`
	Dominant       string           `parquet:"dominant"`
	Share          float64          `parquet:"share"`
	GoodputAvgBps  float64          `parquet:"goodput_avg_bps"`
	GoodputPeakBps float64          `parquet:"goodput_peak_bps"`
	MaxWindow      int64            `parquet:"max_window"`
	Kernel         *KernelChronoCol `parquet:"kernel,optional"`
	Packets        *PacketLimitsCol `parquet:"packets,optional"`
}

func secondsCol(s events.LimitSeconds) LimitSecondsCol {
	return LimitSecondsCol{Rwnd: s.Rwnd, Cwnd: s.Cwnd, Sndbuf: s.Sndbuf, App: s.App, Recovery: s.Recovery, Handshake: s.Handshake}
}

func dirLimitsCol(d *events.DirLimits) *DirLimitsCol {
	if d == nil {
		return nil
	}
	c := &DirLimitsCol{Source: d.Source, Seconds: secondsCol(d.Seconds), Dominant: d.Dominant, Share: d.Seconds.Share(),
		GoodputAvgBps: d.GoodputAvgBps, GoodputPeakBps: d.GoodputPeakBps, MaxWindow: d.MaxWindow}
	if k := d.Kernel; k != nil {
		c.Kernel = &KernelChronoCol{Busy: k.Busy, RwndLimited: k.RwndLimited, SndbufLimited: k.SndbufLimited}
	}
	if p := d.Packets; p != nil {
		c.Packets = &PacketLimitsCol{Seconds: secondsCol(p.Seconds), Dominant: p.Dominant, Share: p.Seconds.Share(), Agreement: p.Agreement}
	}
	return c
}
