package events

import "fmt"

// Tunnel names the overlay a packet travelled in: the kind of tunnel and its
// identifier (VXLAN or Geneve VNI, GRE key, GTP-U TEID). Zero means the
// packet came through no identified tunnel.
type Tunnel uint64

// Tunnel kinds.
const (
	TunnelVXLAN    = 1
	TunnelVXLANGPE = 2
	TunnelGeneve   = 3
	TunnelGRE      = 4
	TunnelGTPU     = 5
)

var tunnelNames = [...]string{"", "vxlan", "vxlan-gpe", "geneve", "gre", "gtpu"}

// MakeTunnel builds a Tunnel from a kind and an identifier.
func MakeTunnel(kind uint8, id uint32) Tunnel { return Tunnel(kind)<<32 | Tunnel(id) }

// Kind is the tunnel kind's name ("vxlan", "gre", ...), "" for none.
func (t Tunnel) Kind() string {
	if k := int(t >> 32); k < len(tunnelNames) {
		return tunnelNames[k]
	}
	return "unknown"
}

// ID is the identifier within the kind.
func (t Tunnel) ID() uint32 { return uint32(t) }

// Tenant reports whether the identifier separates tenants, so that the same
// addresses and ports inside two identifiers are two connections. VNIs and
// GRE keys do; GTP-U TEIDs do not, because each end picks the TEID it
// receives on, so one connection has a different TEID each way.
func (t Tunnel) Tenant() bool {
	k := t >> 32
	return k != 0 && k != TunnelGTPU
}

func (t Tunnel) String() string {
	if t == 0 {
		return ""
	}
	return fmt.Sprintf("%s:%d", t.Kind(), t.ID())
}

// FlowTunnel is a connection's tunnel in flows.jsonl.
type FlowTunnel struct {
	Kind string `json:"kind"` // vxlan, vxlan-gpe, geneve, gre, gtpu
	ID   uint32 `json:"id"`   // VNI, GRE key or TEID, as seen on the client's packets (the first packet's when none)
	// PeerID is the identifier seen on the server's packets when it differs
	// (GTP-U: each end chooses the TEID it receives on).
	PeerID *uint32 `json:"peer_id,omitempty"`
}
