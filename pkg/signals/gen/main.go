// Command gen writes MeshWatch's Prometheus alert rules from the catalog of
// mesh signals (package signals):
//
//	go generate ./pkg/signals       # from the repository root
//	go run ./pkg/signals/gen         # the same
//	go run ./pkg/signals/gen -out F  # somewhere else
//
// The rules file is generated; edit the catalog and run this again (a test
// in pkg/signals fails when the committed file is out of date).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/meshwatch/meshwatch/pkg/signals"
)

func main() {
	out := flag.String("out", "", "output file (default: "+signals.RulesFilePath+" in the module)")
	flag.Parse()
	path := *out
	if path == "" {
		root, err := moduleRoot()
		if err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
		path = filepath.Join(root, filepath.FromSlash(signals.RulesFilePath))
	}
	if err := os.WriteFile(path, signals.RulesFile(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	fmt.Println("wrote", path)
}

// moduleRoot is the nearest directory up from here with a go.mod (go
// generate runs in the package's directory, go run wherever it is called).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}
