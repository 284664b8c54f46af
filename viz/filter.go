package viz

import "github.com/tcpviz/tcpviz/internal/connfilter"

// Filter selects the connections and the time range a report shows: the
// filter language every tcpviz command shares (package connfilter). The
// Collector applies the connection and time tests while collecting; process,
// cwnd and local/remote tests need whole-connection knowledge and are applied
// by Build.
type Filter = connfilter.Filter

// TimeBound is an absolute time or an offset from the first packet.
type TimeBound = connfilter.TimeBound

// ParseTimeBound reads a --since/--until value.
var ParseTimeBound = connfilter.ParseTimeBound
