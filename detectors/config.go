package detectors

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// Config holds the detector thresholds. The zero value is not useful: start
// from DefaultConfig.
type Config struct {
	// DupAckThreshold is the duplicate-ACK count at which loss_infer
	// (triple_duplicate_ack) fires: at the third duplicate, not the second.
	DupAckThreshold int
	// AckStallFloor and AckStallFactor: outstanding data with no ACK progress
	// for max(AckStallFloor, AckStallFactor × srtt) is an ack_stall.
	AckStallFloor  time.Duration
	AckStallFactor float64
	// RSTStormCount connections reset (first RST of each connection) within
	// StormWindow raise a rst_storm; FINStormCount first FINs a fin_storm.
	RSTStormCount int
	FINStormCount int
	StormWindow   time.Duration
	// DefaultIRTT is the out-of-order window when the handshake RTT is
	// unknown (Wireshark uses 3 ms).
	DefaultIRTT time.Duration
	// FastRetransWindow: a retransmission within this time of the peer's
	// last ACK, after ≥ 2 duplicate ACKs, is a fast retransmission (20 ms).
	FastRetransWindow time.Duration
	// SYNTimeout: a SYN with no answer for this long is no_syn_ack.
	SYNTimeout time.Duration
	// KernelMatchWindow: an inferred retransmission and a kernel retransmit
	// record match when their sequence ranges overlap and their times are
	// at most this far apart.
	KernelMatchWindow time.Duration
	// RTTSamples turns rtt_sample events on (the srtt in each event's
	// context is kept either way).
	RTTSamples bool
	// Limits turns on the split of each direction's time into what limited
	// its sender (flows.jsonl "limits", limit_change events); LimitWindow
	// is the step in which the dominant limit is followed over time.
	Limits      bool
	LimitWindow time.Duration
}

// DefaultConfig returns the documented defaults (docs/detectors.md).
func DefaultConfig() Config {
	return Config{
		DupAckThreshold:   3,
		AckStallFloor:     200 * time.Millisecond,
		AckStallFactor:    4,
		RSTStormCount:     20,
		FINStormCount:     100,
		StormWindow:       time.Second,
		DefaultIRTT:       3 * time.Millisecond,
		FastRetransWindow: 20 * time.Millisecond,
		SYNTimeout:        10 * time.Second,
		KernelMatchWindow: 200 * time.Millisecond,
		RTTSamples:        true,
		Limits:            true,
		LimitWindow:       500 * time.Millisecond,
	}
}

// Environment variables read by ConfigFromEnv.
const (
	EnvDupAckThreshold   = "TCPVIZ_DUPACK_THRESHOLD"
	EnvAckStallFloor     = "TCPVIZ_ACK_STALL_FLOOR"
	EnvAckStallFactor    = "TCPVIZ_ACK_STALL_FACTOR"
	EnvRSTStormCount     = "TCPVIZ_RST_STORM_COUNT"
	EnvFINStormCount     = "TCPVIZ_FIN_STORM_COUNT"
	EnvStormWindow       = "TCPVIZ_STORM_WINDOW"
	EnvDefaultIRTT       = "TCPVIZ_DEFAULT_IRTT"
	EnvFastRetransWindow = "TCPVIZ_FAST_RETRANS_WINDOW"
	EnvSYNTimeout        = "TCPVIZ_SYN_TIMEOUT"
	EnvKernelMatchWindow = "TCPVIZ_KERNEL_MATCH_WINDOW"
	EnvRTTSamples        = "TCPVIZ_RTT_SAMPLES"
	EnvLimits            = "TCPVIZ_LIMITS"
	EnvLimitWindow       = "TCPVIZ_LIMIT_WINDOW"
)

// ConfigFromEnv overrides fields of base from TCPVIZ_* environment
// variables; unset or empty variables keep base. Durations use Go syntax ("200ms", "1.5s").
func ConfigFromEnv(base Config) (Config, error) {
	c := base
	ints := []struct {
		name string
		dst  *int
	}{{EnvDupAckThreshold, &c.DupAckThreshold}, {EnvRSTStormCount, &c.RSTStormCount}, {EnvFINStormCount, &c.FINStormCount}}
	for _, x := range ints {
		if s := os.Getenv(x.name); s != "" {
			v, err := strconv.Atoi(s)
			if err != nil || v < 1 {
				return base, fmt.Errorf("%s=%q: want a positive integer", x.name, s)
			}
			*x.dst = v
		}
	}
	durs := []struct {
		name string
		dst  *time.Duration
	}{{EnvAckStallFloor, &c.AckStallFloor}, {EnvStormWindow, &c.StormWindow}, {EnvDefaultIRTT, &c.DefaultIRTT},
		{EnvFastRetransWindow, &c.FastRetransWindow}, {EnvSYNTimeout, &c.SYNTimeout}, {EnvKernelMatchWindow, &c.KernelMatchWindow},
		{EnvLimitWindow, &c.LimitWindow}}
	for _, x := range durs {
		if s := os.Getenv(x.name); s != "" {
			v, err := time.ParseDuration(s)
			if err != nil || v <= 0 {
				return base, fmt.Errorf("%s=%q: want a positive duration such as 200ms", x.name, s)
			}
			*x.dst = v
		}
	}
	if s := os.Getenv(EnvAckStallFactor); s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v <= 0 {
			return base, fmt.Errorf("%s=%q: want a positive number", EnvAckStallFactor, s)
		}
		c.AckStallFactor = v
	}
	if s := os.Getenv(EnvRTTSamples); s != "" {
		v, err := strconv.ParseBool(s)
		if err != nil {
			return base, fmt.Errorf("%s=%q: want true or false", EnvRTTSamples, s)
		}
		c.RTTSamples = v
	}
	if s := os.Getenv(EnvLimits); s != "" {
		v, err := strconv.ParseBool(s)
		if err != nil {
			return base, fmt.Errorf("%s=%q: want true or false", EnvLimits, s)
		}
		c.Limits = v
	}
	return c, c.Validate()
}

// Validate reports a setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.DupAckThreshold < 1:
		return fmt.Errorf("dup-ACK threshold %d: must be at least 1", c.DupAckThreshold)
	case c.AckStallFloor <= 0 || c.AckStallFactor <= 0:
		return fmt.Errorf("ACK stall floor %v and factor %v: must be positive", c.AckStallFloor, c.AckStallFactor)
	case c.RSTStormCount < 1 || c.FINStormCount < 1 || c.StormWindow <= 0:
		return fmt.Errorf("storm counts %d/%d in %v: must be positive", c.RSTStormCount, c.FINStormCount, c.StormWindow)
	}
	return nil
}
