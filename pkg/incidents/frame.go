package incidents

// The "incidents" frame MeshWatch streams to the Incidents page, and the
// JSON the incident routes answer with. This file is an input of the
// TypeScript wire types: src/api/wire/incidents.ts is generated from it
// (mage generate), so the browser reads them by these names; keep only
// those names and builders here.

import (
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/meshwatch/meshwatch/pkg/incident"
)

// StreamPath is the incidents Live channel's path
// (plugin/meshwatch-mesh-app/incidents in the browser).
const StreamPath = "incidents"

// Frame field names, in frame order.
const (
	FieldID         = "id"
	FieldState      = "state"
	FieldSeverity   = "severity"
	FieldNamespace  = "namespace"
	FieldWorkload   = "workload"
	FieldTitle      = "title"
	FieldSummary    = "summary"
	FieldStartedAt  = "startedAt"
	FieldResolvedAt = "resolvedAt"
	FieldUpdatedAt  = "updatedAt"
	FieldAlerts     = "alerts"
	FieldFiring     = "firing"
	FieldFlapping   = "flapping"
	FieldReopens    = "reopens"
	FieldTopFinding = "topFinding"
	// FieldGroupAlerts and FieldGroupWorkloads count the alerts and the
	// workloads of the row's whole group (one fault, one incident: a row
	// is a root and its affected incidents); its own when it heads none.
	FieldGroupAlerts    = "groupAlerts"
	FieldGroupWorkloads = "groupWorkloads"
)

// FrameName is the name of the frames Frame builds.
const FrameName = "incidents"

// Frame turns incidents into the "incidents" frame, one row per incident in
// the given order; resolvedAt is null while open. topFinding is the top
// finding's line of the latest evidence capture ("" before any).
// groupAlerts and groupWorkloads are the row's group's (incident.Merge;
// its own alerts and 1 when it heads no group), and severity is the
// group's most severe.
func Frame(list []incident.Incident) *data.Frame {
	n := len(list)
	id := make([]int64, n)
	state, sev, ns, wl, title, summary, top := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	started, updated := make([]time.Time, n), make([]time.Time, n)
	resolved := make([]*time.Time, n)
	alerts, firing, reopens := make([]int64, n), make([]int64, n), make([]int64, n)
	flapping := make([]bool, n)
	groupAlerts, groupWorkloads := make([]int64, n), make([]int64, n)
	for i, in := range list {
		groupAlerts[i], groupWorkloads[i] = int64(max(in.GroupAlerts, in.Alerts)), int64(max(in.GroupWorkloads, 1))
		id[i] = in.ID
		state[i], sev[i], ns[i], wl[i] = string(in.State), in.Severity, in.Key.Namespace, in.Key.Workload
		if in.GroupSeverity != "" {
			sev[i] = in.GroupSeverity
		}
		title[i], summary[i] = in.Title, in.Summary
		started[i], updated[i] = in.StartedAt, in.UpdatedAt
		if !in.ResolvedAt.IsZero() {
			t := in.ResolvedAt
			resolved[i] = &t
		}
		alerts[i], firing[i], reopens[i] = int64(in.Alerts), int64(in.Firing), int64(len(in.Reopens))
		flapping[i] = in.Flapping
		top[i] = in.TopFinding
	}
	f := data.NewFrame(FrameName,
		data.NewField(FieldID, nil, id),
		data.NewField(FieldState, nil, state),
		data.NewField(FieldSeverity, nil, sev),
		data.NewField(FieldNamespace, nil, ns),
		data.NewField(FieldWorkload, nil, wl),
		data.NewField(FieldTitle, nil, title),
		data.NewField(FieldSummary, nil, summary),
		data.NewField(FieldStartedAt, nil, started),
		data.NewField(FieldResolvedAt, nil, resolved),
		data.NewField(FieldUpdatedAt, nil, updated),
		data.NewField(FieldAlerts, nil, alerts),
		data.NewField(FieldFiring, nil, firing),
		data.NewField(FieldFlapping, nil, flapping),
		data.NewField(FieldReopens, nil, reopens),
		data.NewField(FieldTopFinding, nil, top),
		data.NewField(FieldGroupAlerts, nil, groupAlerts),
		data.NewField(FieldGroupWorkloads, nil, groupWorkloads),
	)
	f.Meta = &data.FrameMeta{}
	return f
}

// ErrorFrame is the empty incidents frame carrying text as an error notice
// (the store cannot be opened or read). text must carry no credentials.
func ErrorFrame(text string) *data.Frame {
	f := Frame(nil)
	f.Meta.Notices = []data.Notice{{Severity: data.NoticeSeverityError, Text: text}}
	return f
}

// Routes the capability answers (under /api/plugins/meshwatch-mesh-app/resources).
const (
	// RouteAlertmanager takes Alertmanager's webhook (payload version 4).
	RouteAlertmanager = "/intake/alertmanager"
	// RouteGrafana takes Grafana-managed alerting's webhook contact point.
	RouteGrafana = "/intake/grafana"
	// RouteIncidents lists incidents (GET, ?state=&severity=&namespace=),
	// one row per group of incidents that are one fault (the root's; the
	// filters apply to it); RouteIncidents + "/{id}" is one incident with
	// its alerts, and a root's affected incidents with theirs.
	RouteIncidents = "/incidents"
)

// IntakeResponse is the answer to a webhook delivery. 200: the alerts
// counted in Accepted are committed, and Rejected lists any sibling that was
// not (a sender must not retry those: they would fail again). 4xx: nothing
// was stored, and Error says why (400 malformed or empty body, 413 too
// large, 422 no alert in it is valid). 503: the store could not commit; the
// sender should retry.
type IntakeResponse struct {
	// Accepted counts the alerts stored (committed) by this delivery.
	Accepted int `json:"accepted"`
	// Rejected lists the alerts that were not, each with its reason.
	Rejected []Rejection `json:"rejected"`
	// Incidents are the ids of the incidents the delivery created or changed.
	Incidents []int64 `json:"incidents"`
	// Error says why nothing was accepted (with a 4xx status).
	Error string `json:"error,omitempty"`
}

// Rejection is one alert of a delivery that was not stored.
type Rejection struct {
	// Index is the alert's position in the payload's alerts array.
	Index int `json:"index"`
	// Alertname is its alertname label, when it has one.
	Alertname string `json:"alertname,omitempty"`
	Reason    string `json:"reason"`
}

// ListResponse is the answer to GET RouteIncidents.
type ListResponse struct {
	Incidents []incident.Incident `json:"incidents"`
}

// DetailResponse is the answer to GET RouteIncidents/{id}.
type DetailResponse struct {
	Incident incident.Incident `json:"incident"`
	Alerts   []incident.Record `json:"alerts"`
	// Evidence is the latest evidence capture: the pack (pkg/evidence's
	// Pack) and the ranked findings (pkg/findings' Finding list); absent
	// before the first capture.
	Evidence *incident.Evidence `json:"evidence,omitempty"`
	// Affected are the incidents merged into this one (it is their root),
	// each with its own alerts, in id order; absent unless it heads a
	// group. A merged incident names its root in Incident.MergedInto.
	Affected []AffectedIncident `json:"affected,omitempty"`
	// Merges are the recorded merges and splits that name the incident,
	// oldest first; absent when there are none.
	Merges []incident.MergeEvent `json:"merges,omitempty"`
}

// AffectedIncident is an incident merged into the one a DetailResponse is
// about, with its alerts.
type AffectedIncident struct {
	Incident incident.Incident `json:"incident"`
	Alerts   []incident.Record `json:"alerts"`
}
