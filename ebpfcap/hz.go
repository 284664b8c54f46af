//go:build linux

package ebpfcap

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// KernelHZ returns the running kernel's timer frequency (CONFIG_HZ), which
// the chronographs count in. It reads the kernel configuration, or failing
// that measures the jiffies counter of /proc/timer_list over 200 ms. 0 means
// unknown: the records then carry no chronographs.
func KernelHZ() int {
	if hz := configHZ(); hz > 0 {
		return hz
	}
	return measuredHZ()
}

func configHZ() int {
	if f, err := os.Open("/proc/config.gz"); err == nil {
		defer f.Close()
		if zr, err := gzip.NewReader(f); err == nil {
			if hz := parseConfigHZ(zr); hz > 0 {
				return hz
			}
		}
	}
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		var rel []byte
		for _, c := range u.Release {
			if c == 0 {
				break
			}
			rel = append(rel, byte(c))
		}
		if f, err := os.Open("/boot/config-" + string(rel)); err == nil {
			defer f.Close()
			return parseConfigHZ(f)
		}
	}
	return 0
}

// parseConfigHZ finds CONFIG_HZ=N in a kernel configuration.
func parseConfigHZ(r io.Reader) int {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CONFIG_HZ="); ok {
			if hz, err := strconv.Atoi(v); err == nil && hz > 0 {
				return hz
			}
		}
	}
	return 0
}

// measuredHZ rounds the measured tick rate to the nearest value the kernel
// can be configured with.
func measuredHZ() int {
	j0, t0, err := timerListJiffies()
	if err != nil {
		return 0
	}
	time.Sleep(200 * time.Millisecond)
	j1, t1, err := timerListJiffies()
	if err != nil || !t1.After(t0) || j1 <= j0 {
		return 0
	}
	rate := float64(j1-j0) / t1.Sub(t0).Seconds()
	best := 0
	for _, hz := range []int{100, 250, 300, 1000} {
		if best == 0 || abs(rate-float64(hz)) < abs(rate-float64(best)) {
			best = hz
		}
	}
	return best
}

func timerListJiffies() (uint64, time.Time, error) {
	b, err := os.ReadFile("/proc/timer_list")
	now := time.Now()
	if err != nil {
		return 0, now, err
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("jiffies: ")); ok {
			j, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
			return j, now, err
		}
	}
	return 0, now, fmt.Errorf("/proc/timer_list: no jiffies line")
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
