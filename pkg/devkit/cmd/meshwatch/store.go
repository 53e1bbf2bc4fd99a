package main

import "github.com/meshwatch/meshwatch/pkg/storage"

// "meshwatch store migrate --from sqlite:PATH --to postgres:DSN" moves a
// single Grafana's SQLite file into the PostgreSQL its replicas will share.
// The same command ships in the plugin binary ("gpx_mesh_linux_amd64 store
// migrate …", run in Grafana's pod), where users have it.
func init() {
	commands["store"] = command{
		summary: "store migrate --from sqlite:PATH --to postgres:DSN: copy the incident database into PostgreSQL for Grafana in HA (counts compared, audit chain verified)",
		run:     storage.Command,
	}
}
