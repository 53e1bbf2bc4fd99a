// Command gen writes MeshWatch's dashboards as JSON files:
//
//	go run ./dashboards/gen            # from the repository root
//	go run ./dashboards/gen -out DIR   # somewhere else
//
// The files are generated; edit the Go in dashboards/ and run this again
// (the golden test in dashboards/ fails when they are out of date).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/meshwatch/meshwatch/dashboards"
)

func main() {
	out := flag.String("out", "", "output directory (default: ./dashboards from the repository root, else .)")
	flag.Parse()
	dir := *out
	if dir == "" {
		dir = "."
		if st, err := os.Stat("dashboards"); err == nil && st.IsDir() {
			dir = "dashboards"
		}
	}
	for _, f := range dashboards.Files() {
		b, err := f.Dashboard.JSON()
		if err != nil {
			fmt.Fprintln(os.Stderr, "gen:", f.Name, err)
			os.Exit(1)
		}
		path := filepath.Join(dir, f.Name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
		fmt.Println("wrote", path)
	}
}
