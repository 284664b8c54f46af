//go:build linux

package lab

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Nstat returns the namespace's kernel SNMP/netstat counters (TcpOutSegs,
// TcpRetransSegs, TcpExtTCPLostRetransmit, ...) as absolute values, zeros
// included. Take one snapshot before and one after a transfer and subtract.
func (l *Lab) Nstat(ns string) (map[string]uint64, error) {
	// -a absolute values, -z keep zeros, -s don't touch nstat's history file
	// (it is shared by all namespaces).
	out, err := output("ip", "netns", "exec", ns, "nstat", "-azs")
	if err != nil {
		return nil, fmt.Errorf("nstat in %s: %w", ns, err)
	}
	return parseNstat(out)
}

// parseNstat parses nstat output: a "#kernel" header, then lines of
// "Name value rate".
func parseNstat(data []byte) (map[string]uint64, error) {
	res := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) < 2 {
			return nil, fmt.Errorf("nstat line %d: want name and value: %q", line, text)
		}
		v, err := strconv.ParseUint(fields[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("nstat line %d: %w", line, err)
		}
		res[fields[0]] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read nstat output: %w", err)
	}
	return res, nil
}

// Delta returns after-before for every counter in after (counters are
// monotonic; a counter missing from before counts from 0).
func Delta(before, after map[string]uint64) map[string]uint64 {
	d := make(map[string]uint64, len(after))
	for k, v := range after {
		d[k] = v - before[k]
	}
	return d
}
