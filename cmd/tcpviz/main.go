// Command tcpviz shows what TCP is really doing on a host: it captures
// packets and the kernel's own TCP state with eBPF, finds retransmissions,
// losses and stalls, raises alerts and draws dashboards.
//
// This file only dispatches to commands; each command wires its flags to the
// package that does the work.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/tcpviz/tcpviz/internal/startheap"
)

// Exit codes, documented in README.md.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	usage   string // argument synopsis and examples, shown by --help
	run     func(args []string) error
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// usageError marks errors that deserve exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// newFlags returns a flag set for a command whose help lists the usage text.
func newFlags(c *command) *pflag.FlagSet {
	fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	fs.SortFlags = false
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "tcpviz %s: %s\n\nUsage:\n%s\nFlags:\n%s", c.name, c.summary, c.usage, fs.FlagUsages())
	}
	return fs
}

// parseFlags parses args and turns pflag errors into usage errors.
func parseFlags(fs *pflag.FlagSet, args []string) error {
	plainFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	return nil
}

// plainFlags makes every command's flags read and parse the same way:
// boolean flags show as --json in help (pflag prints --json[=true|false]),
// and every duration also takes a plain number of seconds (60 and 60s), as
// does --window (seconds, which also takes 1m).
func plainFlags(fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		switch v := f.Value; {
		case v.Type() == "bool":
			if _, ok := v.(plainBool); !ok {
				f.Value = plainBool{v}
			}
		case v.Type() == "duration":
			f.Value = secondsOrDuration{v}
		case v.Type() == "float64" && f.Name == "window":
			f.Value = durationOrSeconds{v}
		}
	})
}

// plainBool hides IsBoolFlag from pflag's help; NoOptDefVal ("true") still
// lets the flag stand alone.
type plainBool struct{ pflag.Value }

// secondsOrDuration is a duration flag that also takes seconds.
type secondsOrDuration struct{ pflag.Value }

func (s secondsOrDuration) Set(v string) error {
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		v += "s"
	}
	if err := s.Value.Set(v); err != nil {
		return fmt.Errorf("want seconds (60) or a duration (60s, 2m)")
	}
	return nil
}

// durationOrSeconds is a seconds flag that also takes a duration.
type durationOrSeconds struct{ pflag.Value }

func (s durationOrSeconds) Set(v string) error {
	if d, err := time.ParseDuration(v); err == nil {
		v = strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
	}
	if err := s.Value.Set(v); err != nil {
		return fmt.Errorf("want seconds (60) or a duration (60s, 2m)")
	}
	return nil
}

func printHelp(w io.Writer) {
	fmt.Fprintf(w, "tcpviz shows what TCP is really doing on your hosts.\n\nUsage: tcpviz <command> [flags]\n\nCommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nRun 'tcpviz <command> --help' for a command's flags and examples.\n")
}

// startingHeap is the heap the first garbage collection waits for: more
// than a parse of a million packets allocates in all (6-9 MB), so such a
// run collects nothing (docs/performance.md, "Eleventh round").
const startingHeap = 16 << 20

func main() {
	startheap.Raise(startingHeap)
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		printHelp(os.Stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "help", "-h", "--help":
		if len(args) > 1 {
			c := commands[args[1]]
			if c == nil {
				fmt.Fprintf(os.Stderr, "tcpviz help: unknown command %q (try 'tcpviz help')\n", args[1])
				return exitUsage
			}
			// The command's own --help lists its flags.
			return run([]string{args[1], "--help"})
		}
		printHelp(os.Stdout)
		return exitOK
	}
	c := commands[name]
	if c == nil {
		fmt.Fprintf(os.Stderr, "tcpviz: unknown command %q (try 'tcpviz help')\n", name)
		return exitUsage
	}
	err := c.run(args[1:])
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, pflag.ErrHelp):
		return exitOK
	}
	msg := strings.TrimSpace(err.Error())
	fmt.Fprintf(os.Stderr, "tcpviz %s: %s\n", name, msg)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFailure
}

// plural writes "1 flow", "2 flows".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
