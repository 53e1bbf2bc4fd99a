package alerts

// The "alerts" frame MeshWatch streams to the Incidents page. This file is an
// input of the TypeScript wire types: src/api/wire/alerts.ts is generated from
// it (mage generate), so the browser reads the frame by these field names;
// keep only the frame's names and builders here.

import (
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// StreamPath is the alerts Live channel's path
// (plugin/meshwatch-mesh-app/alerts in the browser).
const StreamPath = "alerts"

// States Prometheus reports for an alert that is active, the values of the
// state field; others (Prometheus 3 may list "inactive" ones that are kept
// firing) are dropped.
const (
	StateFiring  = "firing"
	StatePending = "pending"
)

// Frame field names, in frame order.
const (
	FieldState        = "state"
	FieldAlertname    = "alertname"
	FieldNamespace    = "namespace"
	FieldWorkload     = "workload"
	FieldSeverity     = "severity"
	FieldActiveAt     = "activeAt"
	FieldSummary      = "summary"
	FieldDashboardURL = "dashboardUrl"
	FieldRunbook      = "runbook"
)

// FrameName is the name of the frames Frame and ErrorFrame build.
const FrameName = "alerts"

// Frame turns alerts into the "alerts" frame, one row per alert in the given
// order. An empty list gives the same fields with no rows.
func Frame(alerts []Alert) *data.Frame {
	n := len(alerts)
	state, name, ns, wl, sev := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	active := make([]time.Time, n)
	summary, dash, runbook := make([]string, n), make([]string, n), make([]string, n)
	for i, a := range alerts {
		state[i], name[i], ns[i], wl[i], sev[i] = a.State, a.Name, a.Namespace, a.Workload, a.Severity
		active[i] = a.ActiveAt
		summary[i], dash[i], runbook[i] = a.Summary, a.DashboardURL, a.Runbook
	}
	f := data.NewFrame(FrameName,
		data.NewField(FieldState, nil, state),
		data.NewField(FieldAlertname, nil, name),
		data.NewField(FieldNamespace, nil, ns),
		data.NewField(FieldWorkload, nil, wl),
		data.NewField(FieldSeverity, nil, sev),
		data.NewField(FieldActiveAt, nil, active),
		data.NewField(FieldSummary, nil, summary),
		data.NewField(FieldDashboardURL, nil, dash),
		data.NewField(FieldRunbook, nil, runbook),
	)
	// A meta object on every frame, so a consumer that merges frames (Grafana
	// Live's streaming frame keeps the last meta it saw) drops an earlier
	// error notice when the next frame has none.
	f.Meta = &data.FrameMeta{}
	return f
}

// ErrorFrame is the empty alerts frame carrying err as an error notice.
// source names where the alerts come from ("Prometheus at http://…"); it
// prefixes the text unless err already starts with it (upstream errors do).
// err must not carry credentials: upstream errors never do.
func ErrorFrame(err error, source string) *data.Frame {
	f := Frame(nil)
	f.Meta.Notices = []data.Notice{{Severity: data.NoticeSeverityError, Text: NoticeText(err, source)}}
	return f
}

// NoticeText is the error notice ErrorFrame puts on the frame.
func NoticeText(err error, source string) string {
	msg := "unknown error"
	if err != nil {
		msg = err.Error()
	}
	if source == "" || strings.HasPrefix(msg, source) {
		return msg
	}
	return source + ": " + msg
}
