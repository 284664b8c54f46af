package metrics

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// userHZ is the kernel's USER_HZ, the unit of /proc's CPU times: 100 on
// every Linux architecture Go supports.
const userHZ = 100

// processFamilies reads /proc/self/stat, /proc/stat and /proc/self/fd;
// what it cannot read it leaves out.
func processFamilies() []Family {
	gauge := func(name, help string, v float64) Family {
		return Family{Name: name, Help: help, Type: TypeGauge, Metrics: []Metric{{Value: v}}}
	}
	var fams []Family
	if st, err := os.ReadFile("/proc/self/stat"); err == nil {
		// The fields after the command name, which is in parentheses and
		// may itself hold spaces and parentheses.
		if i := bytes.LastIndexByte(st, ')'); i >= 0 {
			f := bytes.Fields(st[i+1:])
			// f[0] is field 3 (state) of proc(5).
			field := func(n int) float64 {
				if n-3 >= len(f) {
					return 0
				}
				v, _ := strconv.ParseUint(string(f[n-3]), 10, 64)
				return float64(v)
			}
			fams = append(fams,
				Family{Name: "process_cpu_seconds_total", Help: "Total user and system CPU time spent in seconds.", Type: TypeCounter,
					Metrics: []Metric{{Value: (field(14) + field(15)) / userHZ}}},
				gauge("process_resident_memory_bytes", "Resident memory size in bytes.", field(24)*float64(os.Getpagesize())),
				gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", field(23)))
			if boot, ok := bootTime(); ok {
				fams = append(fams, gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
					boot+field(22)/userHZ))
			}
		}
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		// Less the descriptor that lists the directory.
		fams = append(fams, gauge("process_open_fds", "Number of open file descriptors.", float64(len(fds)-1)))
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		fams = append(fams, gauge("process_max_fds", "Maximum number of open file descriptors.", float64(lim.Cur)))
	}
	if syscall.Getrlimit(syscall.RLIMIT_AS, &lim) == nil {
		fams = append(fams, gauge("process_virtual_memory_max_bytes", "Maximum amount of virtual memory available in bytes.", float64(lim.Cur)))
	}
	return fams
}

// bootTime is the btime line of /proc/stat: when the system booted, in
// Unix seconds.
func bootTime() (float64, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("btime ")); ok {
			n, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
			return float64(n), err == nil
		}
	}
	return 0, false
}
