//go:build linux

package lab

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// nftTable is the nftables table (family inet) the lab owns in the router.
const nftTable = "tcpviz_lab"

// filterState is everything the router's forward chain should do; the whole
// table is rebuilt from it on every change, which also resets the counters.
type filterState struct {
	loss    map[Side]int  // permille per direction
	dropSYN map[Side]bool // drop segments with SYN set going that way
	reorder map[Side]int  // permille of TCP packets sent to the slow htb class
	extra   []string      // raw rules added with AddRule
}

// routerIf is the router interface that sends packets towards side.
func routerIf(side Side) string {
	if side == ToClient {
		return RouterClientIf
	}
	return RouterServerIf
}

func sides(s Side) []Side {
	var out []Side
	for _, one := range []Side{ToServer, ToClient} {
		if s&one != 0 {
			out = append(out, one)
		}
	}
	return out
}

// SetLoss drops permille/1000 of the TCP packets the router forwards towards
// side (ToServer, ToClient or Both), chosen at random by nftables numgen.
// 0 removes the loss. Changing any filter resets the counters.
func (l *Lab) SetLoss(side Side, permille int) error {
	if permille < 0 || permille > 1000 {
		return fmt.Errorf("loss %d‰ out of range 0..1000", permille)
	}
	l.mu.Lock()
	if l.filter.loss == nil {
		l.filter.loss = map[Side]int{}
	}
	for _, s := range sides(side) {
		l.filter.loss[s] = permille
	}
	l.mu.Unlock()
	return l.applyFilter()
}

// DropSYN makes the router drop every TCP segment with the SYN flag going
// towards side: ToServer drops SYNs (the client retries and gives up),
// ToClient drops SYN-ACKs (the client retries its SYN, the server its
// SYN-ACK). on=false removes the rule.
func (l *Lab) DropSYN(side Side, on bool) error {
	l.mu.Lock()
	if l.filter.dropSYN == nil {
		l.filter.dropSYN = map[Side]bool{}
	}
	for _, s := range sides(side) {
		l.filter.dropSYN[s] = on
	}
	l.mu.Unlock()
	return l.applyFilter()
}

// AddRule appends a raw nftables rule (statement text as in `nft add rule`)
// to the router's forward chain, e.g. `tcp dport 5001 counter drop`.
func (l *Lab) AddRule(rule string) error {
	l.mu.Lock()
	l.filter.extra = append(l.filter.extra, rule)
	l.mu.Unlock()
	return l.applyFilter()
}

func (l *Lab) applyFilter() error {
	l.mu.Lock()
	f := l.filter
	var b strings.Builder
	// "add table" + "delete table" makes the script work whether or not the
	// table exists yet; the new table is then created atomically.
	fmt.Fprintf(&b, "add table inet %s\ndelete table inet %s\n", nftTable, nftTable)
	fmt.Fprintf(&b, "table inet %s {\n  chain forward {\n    type filter hook forward priority filter; policy accept;\n", nftTable)
	for _, s := range []Side{ToServer, ToClient} {
		fmt.Fprintf(&b, "    oifname %q meta l4proto tcp counter comment %q\n", routerIf(s), "tcp-"+s.String())
	}
	for _, s := range []Side{ToServer, ToClient} {
		if f.dropSYN[s] {
			fmt.Fprintf(&b, "    oifname %q tcp flags & syn == syn counter drop comment %q\n",
				routerIf(s), "drop-syn-"+s.String())
		}
	}
	for _, s := range []Side{ToServer, ToClient} {
		if n := f.loss[s]; n > 0 {
			fmt.Fprintf(&b, "    oifname %q meta l4proto tcp %scounter drop comment %q\n",
				routerIf(s), sample(n), "loss-"+s.String())
		}
	}
	for _, s := range []Side{ToServer, ToClient} {
		if n := f.reorder[s]; n > 0 {
			// htb picks the class from skb->priority when its major
			// number is the qdisc's handle (1:).
			fmt.Fprintf(&b, "    oifname %q meta l4proto tcp %smeta priority set 1:20 counter comment %q\n",
				routerIf(s), sample(n), "reorder-"+s.String())
		}
	}
	for i, r := range f.extra {
		fmt.Fprintf(&b, "    %s comment %q\n", r, fmt.Sprintf("extra-%d", i))
	}
	b.WriteString("  }\n}\n")
	l.mu.Unlock()
	if err := runInput(b.String(), "ip", "netns", "exec", l.Router, "nft", "-f", "-"); err != nil {
		return fmt.Errorf("router filter: %w", err)
	}
	return nil
}

// sample is the nftables match for "permille/1000 of the packets, at random"
// (empty for all of them: numgen's right-hand side must stay below 1000).
func sample(permille int) string {
	if permille >= 1000 {
		return ""
	}
	return fmt.Sprintf("numgen random mod 1000 < %d ", permille)
}

// Counter is one nftables rule counter.
type Counter struct {
	Packets uint64
	Bytes   uint64
}

// Counters returns the router's rule counters by rule name:
// "tcp-to-server"/"tcp-to-client" (all forwarded TCP, before any drop),
// "loss-<side>", "drop-syn-<side>", "reorder-<side>", "extra-<n>".
func (l *Lab) Counters() (map[string]Counter, error) {
	out, err := output("ip", "netns", "exec", l.Router, "nft", "-j", "list", "table", "inet", nftTable)
	if err != nil {
		return nil, fmt.Errorf("router counters: %w", err)
	}
	return parseNftCounters(out)
}

// parseNftCounters reads `nft -j list table` output and returns the counter
// of every rule that has a comment.
func parseNftCounters(data []byte) (map[string]Counter, error) {
	var doc struct {
		Nftables []struct {
			Rule *struct {
				Comment string            `json:"comment"`
				Expr    []json.RawMessage `json:"expr"`
			} `json:"rule"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse nft json: %w", err)
	}
	res := map[string]Counter{}
	for _, item := range doc.Nftables {
		if item.Rule == nil || item.Rule.Comment == "" {
			continue
		}
		for _, e := range item.Rule.Expr {
			var c struct {
				Counter *struct {
					Packets uint64 `json:"packets"`
					Bytes   uint64 `json:"bytes"`
				} `json:"counter"`
			}
			if err := json.Unmarshal(e, &c); err != nil {
				continue // not an object with a counter
			}
			if c.Counter != nil {
				res[item.Rule.Comment] = Counter{Packets: c.Counter.Packets, Bytes: c.Counter.Bytes}
			}
		}
	}
	return res, nil
}

// Bottleneck describes a token bucket on the router's egress.
type Bottleneck struct {
	Rate    string // tc rate, e.g. "20mbit"
	Burst   string // bucket size; default "32kb"
	Latency string // longest queueing delay before tbf drops; default "50ms"
}

// SetBottleneck installs (or replaces) a tbf qdisc on the router interface
// towards side. An empty Rate removes it. Note that SetReorder uses the same
// root qdisc slot: the last call wins.
func (l *Lab) SetBottleneck(side Side, b Bottleneck) error {
	for _, s := range sides(side) {
		dev := routerIf(s)
		if b.Rate == "" {
			if err := l.clearRoot(dev); err != nil {
				return err
			}
			continue
		}
		burst, latency := b.Burst, b.Latency
		if burst == "" {
			burst = "32kb"
		}
		if latency == "" {
			latency = "50ms"
		}
		if err := run("ip", "netns", "exec", l.Router, "tc", "qdisc", "replace", "dev", dev, "root",
			"tbf", "rate", b.Rate, "burst", burst, "latency", latency); err != nil {
			return fmt.Errorf("bottleneck %s: %w", s, err)
		}
	}
	return nil
}

func (l *Lab) clearRoot(dev string) error {
	// Deleting a root qdisc that is the default fails with "No such file";
	// that is the state we want anyway.
	err := run("ip", "netns", "exec", l.Router, "tc", "qdisc", "del", "dev", dev, "root")
	if err != nil && !strings.Contains(err.Error(), "No such file") &&
		!strings.Contains(err.Error(), "Cannot delete qdisc with handle of zero") {
		return fmt.Errorf("remove qdisc on %s: %w", dev, err)
	}
	return nil
}

// Reorder describes how packets get reordered: an htb qdisc with a normal
// class and a second class; nftables sends Permille of the TCP packets to the
// second class at random. htb serves each class within its own rate, so a
// marked packet overtakes the normal class's queue (and, when SlowRate is far
// below the arrival rate, later packets overtake it). The defaults give a few
// packets of reordering and no retransmissions in a lab whose RTT is tens of
// microseconds; a low SlowRate (e.g. "2mbit") delays marked packets by
// milliseconds, enough to trigger fast retransmissions.
type Reorder struct {
	Permille int    // share of TCP packets sent to the second class, in 1/1000
	Rate     string // rate of the normal class (the link); default "1gbit"
	SlowRate string // rate of the second class; default "300mbit"
}

// SetReorder installs the reordering qdisc on the router interface towards
// side. Permille 0 removes it (and the qdisc). It replaces a bottleneck set on
// the same interface.
func (l *Lab) SetReorder(side Side, r Reorder) error {
	if r.Permille < 0 || r.Permille > 1000 {
		return fmt.Errorf("reorder %d‰ out of range 0..1000", r.Permille)
	}
	rate, slow := r.Rate, r.SlowRate
	if rate == "" {
		rate = "1gbit"
	}
	if slow == "" {
		slow = "300mbit"
	}
	for _, s := range sides(side) {
		dev := routerIf(s)
		if err := l.clearRoot(dev); err != nil {
			return err
		}
		if r.Permille == 0 {
			continue
		}
		tc := func(args ...string) error {
			return run(append([]string{"ip", "netns", "exec", l.Router, "tc"}, args...)...)
		}
		steps := [][]string{
			{"qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "10"},
			{"class", "add", "dev", dev, "parent", "1:", "classid", "1:1", "htb", "rate", rate},
			{"class", "add", "dev", dev, "parent", "1:1", "classid", "1:10", "htb", "rate", rate, "prio", "0"},
			// The second class never borrows (ceil = rate) and has a
			// small bucket, so it runs at its own pace beside the first.
			{"class", "add", "dev", dev, "parent", "1:1", "classid", "1:20", "htb", "rate", slow, "ceil", slow,
				"burst", "1600", "cburst", "1600", "prio", "1"},
		}
		for _, st := range steps {
			if err := tc(st...); err != nil {
				return fmt.Errorf("reorder %s: %w", s, err)
			}
		}
	}
	l.mu.Lock()
	if l.filter.reorder == nil {
		l.filter.reorder = map[Side]int{}
	}
	for _, s := range sides(side) {
		l.filter.reorder[s] = r.Permille
	}
	l.mu.Unlock()
	return l.applyFilter()
}

// counterNames lists the names in m, sorted (for messages).
func counterNames(m map[string]Counter) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// QdiscDrops returns the packets the router's qdiscs towards side dropped
// (queue overflow in a bottleneck or a reordering lane): losses that no
// nftables counter sees.
func (l *Lab) QdiscDrops(side Side) (uint64, error) {
	var total uint64
	for _, s := range sides(side) {
		out, err := output("ip", "netns", "exec", l.Router, "tc", "-s", "qdisc", "show", "dev", routerIf(s))
		if err != nil {
			return 0, fmt.Errorf("router qdisc stats: %w", err)
		}
		n, err := parseQdiscDrops(string(out))
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// parseQdiscDrops sums the "dropped N" figures of `tc -s qdisc show`. Only
// leaf qdiscs count: a classful root (htb) repeats its children's drops.
func parseQdiscDrops(out string) (uint64, error) {
	var total uint64
	leaf := false
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && f[0] == "qdisc" {
			leaf = f[1] != "htb" && f[1] != "prio" && f[1] != "mq"
			continue
		}
		for i := 0; leaf && i+1 < len(f); i++ {
			if strings.TrimPrefix(f[i], "(") == "dropped" {
				var n uint64
				if _, err := fmt.Sscanf(strings.TrimSuffix(f[i+1], ","), "%d", &n); err != nil {
					return 0, fmt.Errorf("tc output %q: %w", line, err)
				}
				total += n
			}
		}
	}
	return total, nil
}
