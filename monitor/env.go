package monitor

import (
	"fmt"
	"strconv"
	"time"
)

// Environment variables of `tcpviz monitor` (flags take precedence).
const (
	EnvWindow           = "TCPVIZ_WINDOW"
	EnvThreshold        = "TCPVIZ_THRESHOLD"
	EnvLossThreshold    = "TCPVIZ_LOSS_THRESHOLD"
	EnvOOOThreshold     = "TCPVIZ_OOO_THRESHOLD"
	EnvReorderThreshold = "TCPVIZ_REORDER_THRESHOLD"
	EnvPollInterval     = "TCPVIZ_POLL_INTERVAL"
)

// Settings are the monitor's tunables that flags and environment share.
type Settings struct {
	Window       time.Duration
	PollInterval time.Duration
	Thresholds   Thresholds
}

// DefaultSettings are the documented defaults.
func DefaultSettings() Settings {
	return Settings{Window: time.Minute, PollInterval: time.Second, Thresholds: DefaultThresholds()}
}

// Flag names matching the environment variables.
const (
	FlagWindow           = "window"
	FlagThreshold        = "threshold"
	FlagLossThreshold    = "loss-threshold"
	FlagOOOThreshold     = "ooo-threshold"
	FlagReorderThreshold = "reorder-threshold"
	FlagPollInterval     = "poll-interval"
)

// ApplyEnv sets from the environment (lookup, e.g. os.LookupEnv) every
// setting whose flag was not given (changed reports that).
func (s *Settings) ApplyEnv(lookup func(string) (string, bool), changed func(flag string) bool) error {
	durs := []struct {
		env, flag string
		dst       *time.Duration
	}{{EnvWindow, FlagWindow, &s.Window}, {EnvPollInterval, FlagPollInterval, &s.PollInterval}}
	for _, x := range durs {
		v, ok := lookup(x.env)
		if !ok || changed(x.flag) {
			continue
		}
		d, err := ParseSeconds(v)
		if err != nil {
			return fmt.Errorf("%s=%q: %w", x.env, v, err)
		}
		*x.dst = d
	}
	ints := []struct {
		env, flag string
		dst       *int
	}{{EnvThreshold, FlagThreshold, &s.Thresholds.Retransmission}, {EnvLossThreshold, FlagLossThreshold, &s.Thresholds.Loss},
		{EnvOOOThreshold, FlagOOOThreshold, &s.Thresholds.OutOfOrder},
		{EnvReorderThreshold, FlagReorderThreshold, &s.Thresholds.Reordering}}
	for _, x := range ints {
		v, ok := lookup(x.env)
		if !ok || changed(x.flag) {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("%s=%q: want a count (0 turns the alert off)", x.env, v)
		}
		*x.dst = n
	}
	return nil
}

// Validate reports settings that cannot work.
func (s Settings) Validate() error {
	if s.Window <= 0 {
		return fmt.Errorf("window %v: must be positive", s.Window)
	}
	if s.PollInterval <= 0 {
		return fmt.Errorf("poll interval %v: must be positive", s.PollInterval)
	}
	return s.Thresholds.Validate()
}

// ParseSeconds reads "60", "2.5" (seconds) or a Go duration ("500ms", "1m").
func ParseSeconds(s string) (time.Duration, error) {
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		if v <= 0 {
			return 0, fmt.Errorf("must be positive")
		}
		return time.Duration(v * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("want seconds or a duration such as 500ms")
	}
	if d <= 0 {
		return 0, fmt.Errorf("must be positive")
	}
	return d, nil
}
