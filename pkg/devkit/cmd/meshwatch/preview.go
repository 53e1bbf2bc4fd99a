package main

import (
	"context"
	"fmt"
	"io"

	"github.com/meshwatch/meshwatch/pkg/devkit/preview"
)

func init() {
	commands["preview"] = command{
		summary: "serve the plugin's pages on its real backend in a browser (a preview host, not Grafana)",
		run: func(_ context.Context, args []string, _, stderr io.Writer) int {
			if err := preview.Main(args); err != nil {
				fmt.Fprintln(stderr, "meshwatch preview:", err)
				return 1
			}
			return 0
		},
	}
}
