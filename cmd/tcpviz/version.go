package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
)

func init() {
	register(&command{
		name:    "version",
		summary: "print the version, the commit it was built from and the Go version",
		usage: `  tcpviz version

  The module version and VCS commit come from the build information Go
  embeds; "unknown" when the binary was built without them (go build
  -buildvcs=false, or from outside a repository).

Examples:
  tcpviz version
`,
		run: runVersion,
	})
}

func runVersion(args []string) error {
	fs := newFlags(commands["version"])
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	info, _ := debug.ReadBuildInfo()
	fmt.Fprintln(os.Stdout, versionLine(info))
	return nil
}

// versionLine is "tcpviz VERSION commit COMMIT[ (modified)] BUILT go1.x os/arch".
func versionLine(info *debug.BuildInfo) string {
	version, commit, when, dirty := "unknown", "unknown", "", false
	goVersion := runtime.Version()
	if info != nil {
		if v := info.Main.Version; v != "" && v != "(devel)" {
			version = v
		} else if v == "(devel)" {
			version = "devel"
		}
		if info.GoVersion != "" {
			goVersion = info.GoVersion
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
				if len(commit) > 12 {
					commit = commit[:12]
				}
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "tcpviz %s commit %s", version, commit)
	if dirty {
		b.WriteString(" (modified)")
	}
	if when != "" {
		fmt.Fprintf(&b, " built from a tree of %s", when)
	}
	fmt.Fprintf(&b, " %s %s/%s", goVersion, runtime.GOOS, runtime.GOARCH)
	return b.String()
}
