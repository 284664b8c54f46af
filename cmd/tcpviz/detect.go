package main

import (
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/tcpviz/tcpviz/detectors"
	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/conntrack"
	"github.com/tcpviz/tcpviz/internal/decode"
	"github.com/tcpviz/tcpviz/internal/pipeline"
)

// detectorFlags are a command's detector and decoding flags; nil for a
// command without them (defaults and environment only).
type detectorFlags struct {
	fs            *pflag.FlagSet
	dupAcks       int
	stallFloor    time.Duration
	stallFactor   float64
	rstStorm      int
	finStorm      int
	stormWindow   time.Duration
	synTimeout    time.Duration
	noRTT         bool
	noDetectors   bool
	kernelMatchIn time.Duration
	tunnelPorts   []string
}

// addDetectorFlags adds the detector thresholds to a command. Precedence:
// flag, then TCPVIZ_* environment variable, then the default.
func addDetectorFlags(fs *pflag.FlagSet) *detectorFlags {
	d := detectors.DefaultConfig()
	v := &detectorFlags{fs: fs}
	fs.IntVar(&v.dupAcks, "dupack-threshold", d.DupAckThreshold, "duplicate ACKs that infer a loss (env "+detectors.EnvDupAckThreshold+")")
	fs.DurationVar(&v.stallFloor, "ack-stall-floor", d.AckStallFloor, "shortest ACK stall reported (env "+detectors.EnvAckStallFloor+")")
	fs.Float64Var(&v.stallFactor, "ack-stall-factor", d.AckStallFactor, "ACK stall = no ACK progress for max(floor, factor × srtt) (env "+detectors.EnvAckStallFactor+")")
	fs.IntVar(&v.rstStorm, "rst-storm", d.RSTStormCount, "connections reset within --storm-window that make an RST storm (env "+detectors.EnvRSTStormCount+")")
	fs.IntVar(&v.finStorm, "fin-storm", d.FINStormCount, "connections closed within --storm-window that make a FIN storm (env "+detectors.EnvFINStormCount+")")
	fs.DurationVar(&v.stormWindow, "storm-window", d.StormWindow, "window for RST and FIN storms (env "+detectors.EnvStormWindow+")")
	fs.DurationVar(&v.synTimeout, "syn-timeout", d.SYNTimeout, "a SYN unanswered this long is no_syn_ack (env "+detectors.EnvSYNTimeout+")")
	fs.DurationVar(&v.kernelMatchIn, "kernel-match-window", d.KernelMatchWindow, "time tolerance when matching inferred and kernel retransmissions (env "+detectors.EnvKernelMatchWindow+")")
	fs.BoolVar(&v.noRTT, "no-rtt-samples", false, "do not write rtt_sample events (env "+detectors.EnvRTTSamples+"=false)")
	fs.BoolVar(&v.noDetectors, "no-detectors", false, "decode and summarize only: run no detectors")
	fs.StringArrayVar(&v.tunnelPorts, "tunnel-port", nil, "also decode UDP to PORT as this tunnel: vxlan, vxlan-gpe, geneve, gtpu, teredo or ayiya=PORT[,PORT] (repeatable; the IANA ports always count)")
	return v
}

// decodeConfig adds the --tunnel-port values to the default tunnel ports.
func decodeConfig(specs []string) (*decode.Config, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	dc := decode.DefaultConfig()
	lists := map[string]*[]uint16{
		"vxlan": &dc.VXLANPorts, "vxlan-gpe": &dc.VXLANGPEPorts, "geneve": &dc.GenevePorts,
		"gtpu": &dc.GTPUPorts, "teredo": &dc.TeredoPorts, "ayiya": &dc.AYIYAPorts,
	}
	for _, spec := range specs {
		name, ports, ok := strings.Cut(spec, "=")
		list := lists[strings.ToLower(name)]
		if !ok || list == nil {
			return nil, usagef("--tunnel-port %q: want NAME=PORT[,PORT] with NAME one of vxlan, vxlan-gpe, geneve, gtpu, teredo, ayiya", spec)
		}
		for _, p := range strings.Split(ports, ",") {
			n, err := strconv.ParseUint(strings.TrimSpace(p), 10, 16)
			if err != nil || n == 0 {
				return nil, usagef("--tunnel-port %q: %q is not a port (1 to 65535)", spec, p)
			}
			*list = append(*list, uint16(n))
		}
	}
	return &dc, nil
}

// detectorConfig resolves defaults, environment and flags.
func (v *detectorFlags) detectorConfig() (detectors.Config, error) {
	cfg, err := detectors.ConfigFromEnv(detectors.DefaultConfig())
	if err != nil {
		return cfg, usageError{err}
	}
	if v == nil {
		return cfg, nil
	}
	fs := v.fs
	set := func(name string, apply func()) {
		if fs.Changed(name) {
			apply()
		}
	}
	set("dupack-threshold", func() { cfg.DupAckThreshold = v.dupAcks })
	set("ack-stall-floor", func() { cfg.AckStallFloor = v.stallFloor })
	set("ack-stall-factor", func() { cfg.AckStallFactor = v.stallFactor })
	set("rst-storm", func() { cfg.RSTStormCount = v.rstStorm })
	set("fin-storm", func() { cfg.FINStormCount = v.finStorm })
	set("storm-window", func() { cfg.StormWindow = v.stormWindow })
	set("syn-timeout", func() { cfg.SYNTimeout = v.synTimeout })
	set("kernel-match-window", func() { cfg.KernelMatchWindow = v.kernelMatchIn })
	set("no-rtt-samples", func() { cfg.RTTSamples = !v.noRTT })
	if err := cfg.Validate(); err != nil {
		return cfg, usageError{err}
	}
	return cfg, nil
}

// pipelineConfig is the pipeline every command runs: the flow table, the
// registered detectors configured by flags and environment, and the hooks
// other commands add. v may be nil (a command without detector flags).
func (v *detectorFlags) pipelineConfig() (pipeline.Config, error) {
	cfg := pipeline.Config{Flows: conntrack.DefaultConfig()}
	var tunnelPorts []string
	noDetectors := false
	if v != nil {
		tunnelPorts, noDetectors = v.tunnelPorts, v.noDetectors
	}
	dc, err := decodeConfig(tunnelPorts)
	if err != nil {
		return cfg, err
	}
	cfg.Decode = dc
	if !noDetectors {
		dc, err := v.detectorConfig()
		if err != nil {
			return cfg, err
		}
		cfg.NewDetector = func(emit func(*events.Event)) pipeline.Detector {
			return detectors.NewSet(dc, emit)
		}
	}
	for _, h := range pipelineHooks {
		h(&cfg)
	}
	return cfg, nil
}
