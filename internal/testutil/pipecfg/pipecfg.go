// Package pipecfg is the pipeline configuration tests run captures
// through: the one parse-pcap runs without flags.
package pipecfg

import (
	"github.com/tcpviz/tcpviz/detectors"
	"github.com/tcpviz/tcpviz/events"
	"github.com/tcpviz/tcpviz/internal/conntrack"
	"github.com/tcpviz/tcpviz/internal/pipeline"
)

// Detectors is the default connection table with the default detectors.
// Each call returns a fresh configuration the caller may change (OnFlow,
// Flows).
func Detectors() pipeline.Config {
	return pipeline.Config{
		Flows: conntrack.DefaultConfig(),
		NewDetector: func(emit func(*events.Event)) pipeline.Detector {
			return detectors.New(detectors.DefaultConfig(), emit)
		},
	}
}
