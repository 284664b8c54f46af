//go:build linux

package capture

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcpviz/tcpviz/internal/testutil/lab"
)

// benchResult is one transfer with (or without) a capture running.
type benchResult struct {
	name     string
	mbits    float64 // the transfer's throughput
	packets  int     // packets the capture wrote
	drops    uint64
	cpu      cpuTimes // CPU of the capture process while capturing
	startCPU cpuTimes // CPU spent starting up (loading programs, opening)
}

var throughputRe = regexp.MustCompile(`received (\d+) bytes in \S+ \(([\d.]+) Mbit/s\)`)

// cpuTimes are user and system CPU seconds.
type cpuTimes struct{ user, sys float64 }

func (c cpuTimes) sub(d cpuTimes) cpuTimes { return cpuTimes{c.user - d.user, c.sys - d.sys} }

// procCPU is the CPU time of a process, from /proc/PID/stat.
func procCPU(pid int) (cpuTimes, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return cpuTimes{}, err
	}
	// Fields after the command name (which may hold spaces): state is 3,
	// utime 14 and stime 15 (1-based).
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return cpuTimes{ut / 100, st / 100}, nil // USER_HZ is 100 on Linux
}

func selfCPU() cpuTimes {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return cpuTimes{time.Duration(ru.Utime.Nano()).Seconds(), time.Duration(ru.Stime.Nano()).Seconds()}
}

// BenchmarkLabCapture runs a top-rate transfer between two lab namespaces
// (offloads off, so every segment is a packet) with no capture, with
// tcpdump, with tcpviz capture, and with both, on the client's interface.
// scripts/bench-capture.sh runs it and prints the table.
func BenchmarkLabCapture(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: network namespaces and eBPF")
	}
	bytes := 1_000_000_000
	if v, err := strconv.Atoi(os.Getenv("TCPVIZ_BENCH_BYTES")); err == nil && v > 0 {
		bytes = v
	}
	l := lab.New(b, lab.Options{NoOffload: os.Getenv("TCPVIZ_BENCH_OFFLOAD") == ""})
	traffic := lab.BuildTraffic(b)
	dir := b.TempDir()

	round := 0
	run := func(name string, tcpdump, tcpviz bool) []benchResult {
		srv, err := l.Start(l.Server, traffic, "server", "-l", ":5001", "--once")
		if err != nil {
			b.Fatal(err)
		}
		if err := srv.WaitOutput("listening on", 10*time.Second); err != nil {
			b.Fatal(err)
		}
		var td *lab.Proc
		var tdCPU0, cpuStart cpuTimes
		round++
		tdFile := filepath.Join(dir, fmt.Sprintf("%s-%d.pcap", name, round))
		if tcpdump {
			td, err = l.Start(l.Client, "tcpdump", "-i", l.ClientIf, "-s", "128", "-n", "-B", "16384", "-w", tdFile, "tcp")
			if err != nil {
				b.Fatal(err)
			}
			if err := td.WaitOutput("listening on", 10*time.Second); err != nil {
				b.Fatal(err)
			}
			if tdCPU0, err = procCPU(td.Cmd.Process.Pid); err != nil {
				b.Fatal(err)
			}
		}
		var stop func() (Summary, error)
		var cpu0 cpuTimes
		out := filepath.Join(dir, fmt.Sprintf("%s-%d.pcapng", name, round))
		if tcpviz {
			cpuStart = selfCPU()
			stop = startCapture(b, Config{Interface: l.ClientIf, Netns: l.Client, Output: out})
			cpu0 = selfCPU()
		}
		h0 := selfCPU()
		l.Run(l.Client, traffic, "client", "-c", l.ServerAddr.String()+":5001", "--bytes", strconv.Itoa(bytes))
		if err := srv.Wait(); err != nil {
			b.Fatalf("server: %v: %s", err, srv.Output())
		}
		// Without a capture, this is what the benchmark itself (starting
		// the client, collecting output) costs in this process.
		harness := selfCPU().sub(h0)
		m := throughputRe.FindStringSubmatch(srv.Output())
		if m == nil {
			b.Fatalf("no throughput in the server's output: %s", srv.Output())
		}
		mbits, _ := strconv.ParseFloat(m[2], 64)
		var res []benchResult
		if tcpdump {
			cpu, err := procCPU(td.Cmd.Process.Pid)
			if err != nil {
				b.Fatal(err)
			}
			// Without immediate mode libpcap hands packets over a block
			// at a time, a block being retired after at most ~1 s; a stop
			// before that loses the last, partly filled block.
			time.Sleep(1200 * time.Millisecond)
			if err := l.Stop(td); err != nil {
				b.Fatal(err)
			}
			dm := tcpdumpDrops.FindStringSubmatch(td.Output())
			var drops uint64
			if dm != nil {
				drops, _ = strconv.ParseUint(dm[1], 10, 64)
			}
			res = append(res, benchResult{name: name + ": tcpdump", mbits: mbits, packets: countPcap(b, tdFile),
				drops: drops, cpu: cpu.sub(tdCPU0), startCPU: tdCPU0})
		}
		if tcpviz {
			time.Sleep(200 * time.Millisecond)
			cpu1 := selfCPU()
			sum, err := stop()
			if err != nil {
				b.Fatal(err)
			}
			// Stopping drains the rings (that part is per packet, but small
			// after the sleep) and unmaps and frees them (fixed).
			fixed := cpu0.sub(cpuStart)
			stopped := selfCPU().sub(cpu1)
			fixed.user += stopped.user
			fixed.sys += stopped.sys
			res = append(res, benchResult{name: name + ": tcpviz", mbits: mbits, packets: int(sum.Packets),
				drops: sum.Drops(), cpu: cpu1.sub(cpu0), startCPU: fixed})
		}
		if !tcpdump && !tcpviz {
			res = append(res, benchResult{name: name + " (harness)", mbits: mbits, cpu: harness})
		}
		return res
	}

	var all []benchResult
	// TCPVIZ_BENCH_ONLY=tcpviz runs one configuration (for profiling).
	only := os.Getenv("TCPVIZ_BENCH_ONLY")
	for i := 0; i < b.N; i++ {
		for _, c := range []struct {
			name          string
			tcpdump, ours bool
		}{{"none", false, false}, {"tcpdump", true, false}, {"tcpviz", false, true}, {"both", true, true}} {
			if only == "" || only == c.name {
				all = append(all, run(c.name, c.tcpdump, c.ours)...)
			}
		}
	}
	fmt.Printf("%-16s %8s %9s %6s %10s %7s %7s %13s %13s\n", "run", "Mbit/s", "packets", "drops",
		"start/stop", "user s", "sys s", "user µs/pkt", "total µs/pkt")
	for _, r := range all {
		var perUser, perAll string
		if r.packets > 0 {
			perUser = fmt.Sprintf("%.2f", r.cpu.user*1e6/float64(r.packets))
			perAll = fmt.Sprintf("%.2f", (r.cpu.user+r.cpu.sys)*1e6/float64(r.packets))
			key := strings.ReplaceAll(r.name, " ", "")
			b.ReportMetric(r.cpu.user*1e6/float64(r.packets), key+"-user-µs/pkt")
			b.ReportMetric((r.cpu.user+r.cpu.sys)*1e6/float64(r.packets), key+"-cpu-µs/pkt")
		}
		fmt.Printf("%-16s %8.0f %9d %6d %10.2f %7.2f %7.2f %13s %13s\n", r.name, r.mbits, r.packets, r.drops,
			r.startCPU.user+r.startCPU.sys, r.cpu.user, r.cpu.sys, perUser, perAll)
	}
}

// countPcap counts the packets of a file with our reader.
func countPcap(tb testing.TB, name string) int {
	n, err := countPackets(name)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}
