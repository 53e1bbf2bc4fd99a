package incidents

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/incident"
)

// A capability that watches something (the canaries Flagger fails) raises
// its complete set: it groups with the same workload's alerts from
// Alertmanager, and a set without it resolves only its own alert.
func TestRaisedAlertsGroupWithOthersAndResolveWhenGone(t *testing.T) {
	in := newInstance(t, Options{Every: time.Hour})
	ctx := context.Background()
	raise := in.svc.Raise(incident.SourceFlagger)
	rule := map[string]string{"alertname": "HighErrorRate", "namespace": "team-a", "workload": "web", "severity": "critical"}
	in.call(t, viewer, http.MethodPost, RouteAlertmanager, amPayload(amAlert("firing", rule, started)))

	failed, err := incident.Normalize(incident.Alert{Status: incident.StatusFiring, Source: incident.SourceFlagger, StartsAt: started.Add(time.Minute),
		Labels: map[string]string{"alertname": "FlaggerCanaryFailed", "namespace": "team-a", "workload": "web", "canary": "web", "severity": "warning"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := raise(ctx, []incident.Alert{failed}); err != nil {
		t.Fatal(err)
	}
	_, body := in.call(t, viewer, http.MethodGet, RouteIncidents+"?state=open", "")
	list := body["incidents"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["alerts"] != float64(2) {
		t.Fatalf("the raised alert and the rule's on one workload should be one incident with 2 alerts: %v", list)
	}
	// Raising the same set again changes nothing.
	if err := raise(ctx, []incident.Alert{failed}); err != nil {
		t.Fatal(err)
	}
	// The canary left Failed: its alert resolves, the rule's still fires.
	if err := raise(ctx, nil); err != nil {
		t.Fatal(err)
	}
	_, body = in.call(t, viewer, http.MethodGet, RouteIncidents+"?state=open", "")
	list = body["incidents"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["firing"] != float64(1) {
		t.Fatalf("after the canary recovered, want the incident open with the rule's alert firing: %v", list)
	}
}
