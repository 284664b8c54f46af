package monitor

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// naturalLess orders names with digit runs compared as numbers, so that
// "cap9" < "cap10" and "ring_00009_..." < "ring_00010_...". Equal numbers
// with different zero padding fall back to the plain comparison.
func naturalLess(a, b string) bool {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		ca, cb := a[i], b[j]
		if isDigit(ca) && isDigit(cb) {
			si, sj := i, j
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			na := strings.TrimLeft(a[si:i], "0")
			nb := strings.TrimLeft(b[sj:j], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			continue
		}
		if ca != cb {
			return ca < cb
		}
		i++
		j++
	}
	if len(a)-i != len(b)-j {
		return len(a)-i < len(b)-j
	}
	return a < b
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func hasGlobMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// series recognises the files of one rolling capture inside a directory.
type series struct {
	dir   string
	match func(name string) bool
	// seq returns a file's sequence number, when its name carries one, so
	// that a missing number can be reported as a gap.
	seq  func(name string) (int, bool)
	desc string
}

// rollingName matches the ring names of tcpviz capture and dumpcap:
// base_NNNNN_YYYYmmddHHMMSS.ext.
//
// Compiled on first use, not at start-up: most commands never follow a ring.
var rollingName = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(.*)_(\d{5,})_(\d{14})(\.[^._]+(?:\.gz)?)?$`)
})

// ringSeries is base_NNNNN_YYYYmmddHHMMSS.ext for one base and extension.
func ringSeries(dir, base, ext string) *series {
	re := regexp.MustCompile("^" + regexp.QuoteMeta(base) + `_(\d{5,})_\d{14}` + regexp.QuoteMeta(ext) + "$")
	return &series{
		dir:   dir,
		match: re.MatchString,
		seq: func(name string) (int, bool) {
			m := re.FindStringSubmatch(name)
			if m == nil {
				return 0, false
			}
			n, err := strconv.Atoi(m[1])
			return n, err == nil
		},
		desc: fmt.Sprintf("%s_NNNNN_YYYYmmddHHMMSS%s", filepath.Join(dir, base), ext),
	}
}

// tcpdumpSeries is tcpdump -C's name, name1, name2, ...
func tcpdumpSeries(dir, name string) *series {
	re := regexp.MustCompile("^" + regexp.QuoteMeta(name) + `(\d*)$`)
	return &series{
		dir:   dir,
		match: re.MatchString,
		seq: func(n string) (int, bool) {
			m := re.FindStringSubmatch(n)
			if m == nil {
				return 0, false
			}
			if m[1] == "" {
				return 0, true
			}
			v, err := strconv.Atoi(m[1])
			return v, err == nil
		},
		desc: filepath.Join(dir, name) + "[N]",
	}
}

// globSeries is every file matching a shell pattern in one directory.
func globSeries(dir, pattern string) *series {
	return &series{
		dir: dir,
		match: func(name string) bool {
			ok, _ := filepath.Match(pattern, name)
			return ok
		},
		seq:  rollingSeq,
		desc: filepath.Join(dir, pattern),
	}
}

// dirSeries is every capture file in a directory.
func dirSeries(dir string) *series {
	return &series{dir: dir, match: captureName, seq: rollingSeq, desc: dir + string(filepath.Separator)}
}

// rollingSeq reads the sequence number of a ring name, if it is one.
func rollingSeq(name string) (int, bool) {
	m := rollingName().FindStringSubmatch(name)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[2])
	return n, err == nil
}

// captureName says whether a file in a followed directory looks like a
// capture: not hidden (temporary files of writers are), and a capture
// extension, possibly followed by tcpdump -C's number.
func captureName(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false
	}
	n := strings.TrimSuffix(name, ".gz")
	n = strings.TrimRight(n, "0123456789")
	for _, ext := range []string{".pcapng", ".pcap", ".cap", ".ntar"} {
		if strings.HasSuffix(n, ext) {
			return true
		}
	}
	return false
}

// seriesFor derives the series a single file belongs to: a ring name
// continues with the ring, anything else with tcpdump -C's numbered
// successors.
func seriesFor(path string) *series {
	dir, name := filepath.Split(path)
	dir = filepath.Clean(dir)
	if m := rollingName().FindStringSubmatch(name); m != nil {
		return ringSeries(dir, m[1], m[4])
	}
	return tcpdumpSeries(dir, name)
}

// baseSeries is what a --pcap-path that does not exist (yet) stands for: the
// -w name given to a rotating capture. It matches tcpviz capture's and
// dumpcap's ring names and tcpdump -C's numbered files.
func baseSeries(path string) *series {
	dir, name := filepath.Split(path)
	dir = filepath.Clean(dir)
	ext := filepath.Ext(name)
	if ext == "" {
		ext = ".pcapng" // tcpviz capture's default
	}
	base := strings.TrimSuffix(name, filepath.Ext(name))
	ring := ringSeries(dir, base, ext)
	tcpd := tcpdumpSeries(dir, name)
	return &series{
		dir: dir,
		match: func(n string) bool {
			return ring.match(n) || tcpd.match(n)
		},
		seq: func(n string) (int, bool) {
			if ring.match(n) {
				return ring.seq(n)
			}
			return tcpd.seq(n)
		},
		desc: ring.desc + " or " + tcpd.desc,
	}
}

// list returns the series' regular files, oldest first.
func (s *series) list() ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", s.dir, err)
	}
	var names []string
	for _, e := range entries {
		// Symlinks are skipped: in a ring they point at a file that is
		// listed anyway (base-current.pcapng).
		if !e.Type().IsRegular() || !s.match(e.Name()) {
			continue
		}
		names = append(names, e.Name())
	}
	sortNatural(names)
	for i, n := range names {
		names[i] = filepath.Join(s.dir, n)
	}
	return names, nil
}

func sortNatural(names []string) {
	slices.SortFunc(names, func(a, b string) int {
		switch {
		case naturalLess(a, b):
			return -1
		case naturalLess(b, a):
			return 1
		}
		return 0
	})
}
