package decode

import (
	"strconv"
	"strings"
)

// Elements of an encapsulation path, in the order they are named in
// flows.jsonl ("eth/vlan:100/ip/udp/vxlan/eth/ip").
const (
	elEth uint8 = iota + 1
	elVLAN
	elSLL
	elSLL2
	elNull
	elIP
	elIP6
	elUDP
	elGRE
	elERSPAN1
	elERSPAN2
	elERSPAN3
	elVXLAN
	elVXLANGPE
	elGeneve
	elGTPU
	elTeredo
	elAYIYA
	elMPLS
	elPPPoE
	elPPP
	elLLC
	elFDDI
	elCHDLC
	elPBB
	elWLAN
	elRadiotap
	elNFLOG
	elFrag // the IP datagram before it was reassembled from fragments
	elJuniper
	elIPoIB
	elPflog
	elEnc
	elPPI
	elPrism
	elAVS
	elPktap
)

var elNames = [...]string{"", "eth", "vlan", "sll", "sll2", "null", "ip", "ip6", "udp", "gre", "erspan1", "erspan2",
	"erspan3", "vxlan", "vxlan-gpe", "geneve", "gtpu", "teredo", "ayiya", "mpls", "pppoe", "ppp", "llc", "fddi",
	"chdlc", "pbb", "wlan", "radiotap", "nflog", "frag", "juniper", "ipoib", "pflog", "enc", "ppi", "prism", "avs",
	"pktap"}

// elHasValue says which elements carry a number in the path (VLAN id, top
// MPLS label, PBB I-SID).
func elHasValue(k uint8) bool { return k == elVLAN || k == elMPLS || k == elPBB }

// maxPath bounds the recorded path; deeper layers are still decoded.
const maxPath = 14

type pathElem struct {
	kind uint8
	val  uint32
}

// encapPath is the path of one frame, built while decoding.
type encapPath struct {
	n     uint8
	elems [maxPath]pathElem
}

func (p *encapPath) add(kind uint8, val uint32) {
	if int(p.n) < maxPath {
		p.elems[p.n] = pathElem{kind, val}
		p.n++
	}
}

func (p *encapPath) String() string {
	var b strings.Builder
	for i := range int(p.n) {
		if i > 0 {
			b.WriteByte('/')
		}
		e := p.elems[i]
		b.WriteString(elNames[e.kind])
		if elHasValue(e.kind) {
			b.WriteByte(':')
			b.WriteString(strconv.FormatUint(uint64(e.val), 10))
		}
	}
	if p.n == maxPath {
		b.WriteString("/…")
	}
	return b.String()
}

// maxPaths bounds the distinct path strings a decoder keeps.
const maxPaths = 4096

// paths shares one string per distinct path, so packets carry the path
// without an allocation each. The last path is checked first: consecutive
// frames almost always share it.
type paths struct {
	last    encapPath
	lastStr string
	known   map[encapPath]string
}

func (ps *paths) intern(p *encapPath) string {
	if p.n == ps.last.n && p.elems == ps.last.elems && ps.lastStr != "" {
		return ps.lastStr
	}
	s, ok := ps.known[*p]
	if !ok {
		s = p.String()
		if ps.known == nil {
			ps.known = make(map[encapPath]string)
		}
		if len(ps.known) < maxPaths {
			ps.known[*p] = s
		}
	}
	ps.last, ps.lastStr = *p, s
	return s
}
