package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/tcpviz/tcpviz/internal/session"
)

// outputFlags are the conventions every reading command shares: a progress
// bar on stderr for terminals, --quiet, --verbose and --sync.
type outputFlags struct {
	quiet   bool
	verbose bool
	sync    bool
}

func addOutputFlags(fs *pflag.FlagSet) *outputFlags {
	o := &outputFlags{}
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "no progress bar and no figures on stderr")
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "debug logs on stderr")
	fs.BoolVar(&o.sync, "sync", false, "flush each output file to the disk before renaming it into place, so finished results survive a crash of the machine (slower on large outputs)")
	return o
}

// setup applies the flags: --sync to the files written from now on, and
// log/slog to stderr: warnings by default, debug with --verbose, errors
// only with --quiet.
func (o *outputFlags) setup() {
	session.SetDurable(o.sync)
	level := slog.LevelWarn
	switch {
	case o.verbose:
		level = slog.LevelDebug
	case o.quiet:
		level = slog.LevelError
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
}

// progress returns the callback for parse.Options.Progress and a function
// that clears the bar; the callback is nil when no bar should be drawn
// (stderr not a terminal, or --quiet).
func (o *outputFlags) progress() (func(done, size int64, records uint64), func()) {
	if o.quiet || !isTerminal(os.Stderr) {
		return nil, func() {}
	}
	bar := &progressBar{w: os.Stderr, start: time.Now()}
	return bar.update, bar.clear
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	return term.IsTerminal(int(f.Fd()))
}

// useColor reports whether output to f may carry ANSI colours: only on a
// terminal, and never when NO_COLOR is set to anything (no-color.org).
func useColor(f *os.File) bool {
	if v, ok := os.LookupEnv("NO_COLOR"); ok && v != "" {
		return false
	}
	return isTerminal(f)
}

// progressBar draws one status line, redrawn at most five times a second.
type progressBar struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
	last  time.Time
	drawn bool
}

func (b *progressBar) update(done, size int64, records uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if now.Sub(b.last) < 200*time.Millisecond {
		return
	}
	b.last = now
	fmt.Fprintf(b.w, "\r%s\x1b[K", progressLine(done, size, records, now.Sub(b.start)))
	b.drawn = true
}

func (b *progressBar) clear() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drawn {
		fmt.Fprint(b.w, "\r\x1b[K")
		b.drawn = false
	}
}

// progressLine is the bar's text: bytes read (of the size when known), the
// byte and packet rates, and the time left when the size is known.
func progressLine(done, size int64, records uint64, elapsed time.Duration) string {
	var b strings.Builder
	secs := elapsed.Seconds()
	if size > 0 {
		pct := 100 * float64(done) / float64(size)
		if pct > 100 {
			pct = 100
		}
		fmt.Fprintf(&b, "%s / %s %3.0f%%", humanBytes(float64(done)), humanBytes(float64(size)), pct)
	} else {
		b.WriteString(humanBytes(float64(done)))
	}
	if secs > 0 {
		fmt.Fprintf(&b, "  %s/s  %s packets/s", humanBytes(float64(done)/secs), humanCount(float64(records)/secs))
		if size > 0 && done > 0 && done < size {
			left := time.Duration(float64(size-done) / (float64(done) / secs) * float64(time.Second))
			fmt.Fprintf(&b, "  ETA %s", clock(left))
		}
	}
	return b.String()
}

func humanBytes(n float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for n >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f %s", n, units[i])
	}
	return fmt.Sprintf("%.1f %s", n, units[i])
}

func humanCount(n float64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.2f M", n/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f k", n/1e3)
	}
	return fmt.Sprintf("%.0f", n)
}

// clock formats a duration as M:SS or H:MM:SS.
func clock(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s%3600/60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
