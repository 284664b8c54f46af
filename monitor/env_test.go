package monitor

import (
	"strings"
	"testing"
	"time"
)

func TestSettingsApplyEnv(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		changed []string // flags given on the command line
		want    Settings
		err     string
	}{
		{"defaults", nil, nil, DefaultSettings(), ""},
		{"all from the environment",
			map[string]string{EnvWindow: "30", EnvPollInterval: "250ms", EnvThreshold: "3", EnvLossThreshold: "0", EnvOOOThreshold: "7", EnvReorderThreshold: "4"},
			nil,
			Settings{Window: 30 * time.Second, PollInterval: 250 * time.Millisecond,
				Thresholds: Thresholds{Retransmission: 3, Loss: 0, OutOfOrder: 7, Reordering: 4, CriticalFactor: 5}}, ""},
		{"flags win over the environment",
			map[string]string{EnvWindow: "30", EnvThreshold: "3", EnvPollInterval: "2s"},
			[]string{FlagWindow, FlagThreshold},
			Settings{Window: time.Minute, PollInterval: 2 * time.Second, Thresholds: DefaultThresholds()}, ""},
		{"fractional seconds and durations", map[string]string{EnvWindow: "1.5", EnvPollInterval: "0.1"}, nil,
			Settings{Window: 1500 * time.Millisecond, PollInterval: 100 * time.Millisecond, Thresholds: DefaultThresholds()}, ""},
		{"bad window", map[string]string{EnvWindow: "soon"}, nil, Settings{}, "TCPVIZ_WINDOW=\"soon\""},
		{"zero window", map[string]string{EnvWindow: "0"}, nil, Settings{}, "must be positive"},
		{"negative threshold", map[string]string{EnvThreshold: "-1"}, nil, Settings{}, "TCPVIZ_THRESHOLD=\"-1\""},
		{"bad ooo threshold", map[string]string{EnvOOOThreshold: "many"}, nil, Settings{}, "TCPVIZ_OOO_THRESHOLD"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := DefaultSettings()
			err := s.ApplyEnv(func(k string) (string, bool) { v, ok := c.env[k]; return v, ok },
				func(f string) bool {
					for _, x := range c.changed {
						if x == f {
							return true
						}
					}
					return false
				})
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s != c.want {
				t.Errorf("settings %+v, want %+v", s, c.want)
			}
		})
	}
}
