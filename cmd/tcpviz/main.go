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
	"strings"

	"github.com/spf13/pflag"
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
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return usageError{err}
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

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	if len(args) == 0 {
		printHelp(os.Stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "help", "-h", "--help":
		if len(args) > 1 {
			if c := commands[args[1]]; c != nil {
				newFlags(c).Usage()
				return exitOK
			}
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
