package dashboards

// File is one generated dashboard file under dashboards/.
type File struct {
	Name      string // file name, e.g. mesh-overview.json
	Title     string // the name plugin.json's include carries
	AddToNav  bool
	Dashboard *Dashboard
}

// Files returns every MeshWatch dashboard with its file name, in the order
// plugin.json lists them.
func Files() []File {
	return []File{
		{Name: "mesh-overview.json", Title: "Mesh overview", AddToNav: true, Dashboard: Overview()},
		{Name: "mesh-workload.json", Title: "Mesh workload", Dashboard: Workload()},
		{Name: "mesh-canary.json", Title: "Mesh canary", Dashboard: Canary()},
		{Name: "mesh-control-plane.json", Title: "Mesh sidecars and control plane", Dashboard: ControlPlane()},
	}
}
