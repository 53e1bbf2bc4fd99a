// Command meshwatch is MeshWatch's command-line tool. Subcommands are
// dispatched by name from the commands table, so new ones (preview, …) are
// one entry each:
//
//	meshwatch simulate --list
//	meshwatch simulate --scenario NAME --mode backfill --out DIR [--duration 6h] [--seed N] [--end RFC3339]
//	meshwatch simulate --scenario NAME --mode live --listen 127.0.0.1:PORT [--loki URL]
//	meshwatch investigate --prometheus URL [--loki URL] [--tempo URL] --alert FILE [--at RFC3339] [--json]
//	meshwatch eval [--scenario NAME]...
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// command is one subcommand: it gets its arguments (after its name) and
// returns the process exit code.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{
	"simulate": {summary: "simulate the homelab mesh under a fault scenario (backfill files or a live /metrics endpoint)", run: runSimulate},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "meshwatch: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	return cmd.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: meshwatch <command> [flags]\n\ncommands:")
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'meshwatch <command> -h' for the command's flags.")
}

// joinLines indents a list for error messages.
func joinLines(items []string) string { return "  " + strings.Join(items, "\n  ") }
