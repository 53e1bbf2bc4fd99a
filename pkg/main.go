package main

import (
	"context"
	"os"

	"github.com/grafana/grafana-plugin-sdk-go/backend/app"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/olekukonko/tablewriter/pkg/twwidth"

	"github.com/meshwatch/meshwatch/pkg/plugin"
	"github.com/meshwatch/meshwatch/pkg/storage"
)

func main() {
	// Grafana starts the plugin without arguments; an admin moving to
	// Grafana in HA runs "<plugin binary> store migrate --from sqlite:PATH
	// --to postgres:DSN" in Grafana's pod.
	if len(os.Args) > 1 && os.Args[1] == "store" {
		os.Exit(storage.Command(context.Background(), os.Args[2:], os.Stdout, os.Stderr))
	}
	// The SDK's data package links tablewriter, whose twwidth package
	// allocates a 640 KB width cache at start-up (an 8,192-entry map) for
	// data.Frame.StringTable, a debugging aid the plugin never calls. Drop
	// it: 0.6 MB less live heap for the life of the process (measured with
	// a heap profile of the idle plugin), so every GC cycle's goal is about
	// 1.3 MB lower once the heap is past Go's 4 MB minimum. StringTable
	// still works, uncached.
	twwidth.SetCacheCapacity(0)

	// Start listening to requests sent from Grafana. This call is blocking so
	// it won't finish until Grafana shuts down the process or the plugin choose
	// to exit by itself using os.Exit. Manage automatically manages life cycle
	// of app instances. It accepts app instance factory as first
	// argument. This factory will be automatically called on incoming request
	// from Grafana to create different instances of `App` (per plugin
	// ID).
	if err := app.Manage("meshwatch-mesh-app", plugin.NewApp, app.ManageOpts{}); err != nil {
		log.DefaultLogger.Error(err.Error())
		os.Exit(1)
	}
}
