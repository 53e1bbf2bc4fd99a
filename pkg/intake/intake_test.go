package intake_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/intake"
)

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// alertTimes reads the alerts' startsAt and endsAt from a payload with a
// decoder of its own, so the golden tests do not check the decoder
// against itself.
func alertTimes(t *testing.T, body []byte) (starts, ends []time.Time) {
	t.Helper()
	var p struct {
		Alerts []struct{ StartsAt, EndsAt time.Time }
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	for _, a := range p.Alerts {
		starts, ends = append(starts, a.StartsAt), append(ends, a.EndsAt)
	}
	return starts, ends
}

func TestGoldenAlertmanagerPayload(t *testing.T) {
	body := read(t, goldenAM)
	starts, ends := alertTimes(t, body)
	// alerts[0] is the resolved pod; alerts[2] HighErrorRate started 30 s later.
	now := ends[0].Add(2 * time.Second)
	got, err := intake.DecodeAlertmanager(body, now)
	if err != nil {
		t.Fatal(err)
	}
	checkGoldenAM(t, got, starts[0], ends[0])
	if !starts[2].Equal(starts[0].Add(30 * time.Second)) {
		t.Fatalf("golden file times: %v", starts)
	}

	body = read(t, goldenAMGrafana)
	starts, _ = alertTimes(t, body)
	got, err = intake.DecodeAlertmanager(body, starts[0].Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	checkGoldenAMGrafana(t, got, starts[0])
}

// Alertmanager's fingerprint is of the label set; MeshWatch's recomputed
// one must equal it, or a webhook alert and the same alert from the
// reconcile would be two alerts.
func TestFingerprintIsAlertmanagers(t *testing.T) {
	for _, name := range []string{goldenAM, goldenAMGrafana} {
		body := read(t, name)
		var p struct {
			Alerts []struct {
				Labels      map[string]string
				Fingerprint string
			}
		}
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatal(err)
		}
		got, err := intake.DecodeAlertmanager(body, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		for i, a := range got.Alerts {
			if a.Fingerprint != p.Alerts[i].Fingerprint {
				t.Errorf("%s alert %d: fingerprint %s, Alertmanager's %s", name, i, a.Fingerprint, p.Alerts[i].Fingerprint)
			}
		}
	}
}

func TestGrafanaDocsExample(t *testing.T) {
	now := time.Date(2021, 10, 12, 8, 0, 0, 0, time.UTC)
	got, err := intake.DecodeGrafana(read(t, "testdata/grafana-docs-example.json"), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Alerts) != 2 || len(got.Rejected) != 0 || got.Total != 2 || got.Source != incident.SourceGrafana {
		t.Fatalf("decoded %+v", got)
	}
	if d := got.Delivery; d.Receiver != "My Super Webhook" || d.OrgID != 1 || d.Status != "firing" || d.ExternalURL != "https://play.grafana.org/" {
		t.Errorf("delivery %+v", d)
	}
	a := got.Alerts[0]
	wantStart := time.Date(2021, 10, 12, 7, 51, 3, 157076000, time.UTC) // +02:00 in the payload
	if a.Name() != "High memory usage" || a.Labels["zone"] != "us-1" || a.Status != incident.StatusFiring ||
		!a.StartsAt.Equal(wantStart) || a.StartsAt.Location() != time.UTC || !a.EndsAt.IsZero() ||
		a.GeneratorURL != "https://play.grafana.org/alerting/1afz29v7z/edit" || a.Source != incident.SourceGrafana {
		t.Errorf("alert %+v", a)
	}
	if a.Annotations["runbook_url"] != "https://myrunbook.com/runbook/1234" ||
		a.Annotations[intake.AnnotationGrafanaSilenceURL] != "https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT2%2Cteam%3Dblue%2Czone%3Dus-1" ||
		a.Annotations[intake.AnnotationGrafanaValues] != `{"B":44.23943737541908,"C":1}` {
		t.Errorf("annotations %v", a.Annotations)
	}
	// Empty dashboardURL and panelURL add nothing.
	for _, k := range []string{intake.AnnotationGrafanaDashboardURL, intake.AnnotationGrafanaPanelURL, intake.AnnotationGrafanaRuleUID} {
		if _, ok := a.Annotations[k]; ok {
			t.Errorf("%s set from an empty field", k)
		}
	}
	// Grafana's fingerprint covers labels it does not send; MeshWatch's is
	// of the labels it received.
	if a.Fingerprint != incident.FingerprintOf(a.Labels) {
		t.Errorf("fingerprint %s", a.Fingerprint)
	}
}

func TestGrafanaAlertingFixture(t *testing.T) {
	body := read(t, "testdata/grafana-alerting-webhook-test.json")
	// As in grafana/alerting's test, the alert has no start time: refused,
	// by name, and the payload itself is fine.
	got, err := intake.DecodeGrafana(body, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Alerts) != 0 || len(got.Rejected) != 1 ||
		got.Rejected[0] != (intake.Rejection{Index: 0, Alertname: "alert1", Reason: "the alert has no startsAt"}) {
		t.Fatalf("decoded %+v", got)
	}
	// With a start time, as real Grafana sends, the links become annotations.
	body = bytes.Replace(body, []byte(`"startsAt":"0001-01-01T00:00:00Z"`), []byte(`"startsAt":"2026-11-30T10:00:00Z"`), 1)
	got, err = intake.DecodeGrafana(body, time.Date(2026, 11, 30, 10, 5, 0, 0, time.UTC))
	if err != nil || len(got.Alerts) != 1 {
		t.Fatalf("decoded %+v %v", got, err)
	}
	want := map[string]string{
		"ann1":                               "annv1",
		intake.AnnotationGrafanaDashboardURL: "http://localhost/d/abcd?orgId=1",
		intake.AnnotationGrafanaPanelURL:     "http://localhost/d/abcd?orgId=1&viewPanel=efgh",
		intake.AnnotationGrafanaSilenceURL:   "http://localhost/alerting/silence/new?alertmanager=grafana&matcher=alertname%3Dalert1&matcher=lbl1%3Dval1&orgId=1",
	}
	if a := got.Alerts[0]; !reflect.DeepEqual(a.Annotations, want) || a.GeneratorURL != "http://localhost/test?orgId=1" {
		t.Errorf("alert %+v", a)
	}
	if got.Delivery.GroupKey != "alertname" || got.Delivery.OrgID != 1 || got.Delivery.Receiver != "my_receiver" {
		t.Errorf("delivery %+v", got.Delivery)
	}
}

func TestGrafanaManagedRule(t *testing.T) {
	got, err := intake.DecodeGrafana(read(t, "testdata/grafana-managed-homelab.json"), time.Date(2026, 11, 30, 22, 0, 0, 0, time.UTC))
	if err != nil || len(got.Alerts) != 2 || len(got.Rejected) != 0 {
		t.Fatalf("decoded %+v %v", got, err)
	}
	disk, backup := got.Alerts[0], got.Alerts[1]
	if disk.Name() != "Disk almost full" || disk.Labels["grafana_folder"] != "Homelab" || disk.Status != incident.StatusFiring {
		t.Errorf("disk %+v", disk)
	}
	for k, v := range map[string]string{
		intake.AnnotationGrafanaRuleUID:      "fe2k9x7q1m0aoe",
		intake.AnnotationGrafanaDashboardURL: "http://grafana.home.arpa/d/rYdddlPWk?from=1796069640000&orgId=1&to=1796076900000",
		intake.AnnotationGrafanaPanelURL:     "http://grafana.home.arpa/d/rYdddlPWk?from=1796069640000&orgId=1&to=1796076900000&viewPanel=152",
		intake.AnnotationGrafanaValues:       `{"A":93.07,"C":1}`,
		"summary":                            "/srv on nas.home.arpa is 93% full",
	} {
		if disk.Annotations[k] != v {
			t.Errorf("disk annotation %s = %q, want %q", k, disk.Annotations[k], v)
		}
	}
	if !strings.HasPrefix(disk.Annotations[intake.AnnotationGrafanaValueString], "[ var='A' labels={instance=nas.home.arpa:9100") {
		t.Errorf("valueString %q", disk.Annotations[intake.AnnotationGrafanaValueString])
	}
	if !backup.Resolved() || !backup.EndsAt.Equal(time.Date(2026, 11, 30, 21, 5, 0, 0, time.UTC)) {
		t.Errorf("backup %+v", backup)
	}
}

// An alert of each kind the brief names (kube-prometheus-stack, a user's own
// rule with an app label, a Grafana-managed rule), as JSON.
const (
	goodCrashLoop = `{"status":"firing","labels":{"alertname":"KubePodCrashLooping","namespace":"media","pod":"jellyfin-7d9c8b6f5-x2x9k","container":"jellyfin","reason":"CrashLoopBackOff","severity":"warning","job":"kube-state-metrics"},
		"annotations":{"summary":"Pod is crash looping."},"startsAt":"2026-11-30T09:40:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus:9090/graph?g0.expr=x","fingerprint":"0000000000000000"}`
	goodHighErrorRate = `{"status":"resolved","labels":{"alertname":"HighErrorRate","app":"invoice-api","namespace":"billing","severity":"critical"},
		"annotations":{"summary":"5xx above 5%"},"startsAt":"2026-11-30T09:00:00.5+01:00","endsAt":"2026-11-30T09:55:00Z"}`
	goodGrafanaRule = `{"status":"firing","labels":{"alertname":"Disk almost full","grafana_folder":"Homelab","__alert_rule_uid__":"fe2k9x7q1m0aoe","instance":"nas:9100"},
		"startsAt":"2026-11-30T09:59:00Z"}`
)

var judgedAt = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

func amPayload(alerts ...string) []byte {
	return []byte(`{"version":"4","groupKey":"{}:{}","truncatedAlerts":0,"status":"firing","receiver":"meshwatch",
		"groupLabels":{},"commonLabels":{},"commonAnnotations":{},"externalURL":"http://alertmanager:9093","alerts":[` +
		strings.Join(alerts, ",") + `]}`)
}

func gfPayload(alerts ...string) []byte {
	return []byte(`{"version":"1","orgId":1,"receiver":"meshwatch","status":"firing","groupKey":"{}:{}","truncatedAlerts":0,
		"title":"t","state":"alerting","message":"m","externalURL":"http://grafana:3000/","alerts":[` + strings.Join(alerts, ",") + `]}`)
}

func TestMixedPayloadKeepsTheGoodAlerts(t *testing.T) {
	noAlertname := `{"status":"firing","labels":{"severity":"critical","namespace":"billing"},"startsAt":"2026-11-30T09:00:00Z"}`
	badStart := `{"status":"firing","labels":{"alertname":"KubeJobFailed","namespace":"backup"},"startsAt":"yesterday"}`
	for _, c := range []struct {
		name   string
		decode func([]byte, time.Time) (intake.Parsed, error)
		body   []byte
	}{
		{"alertmanager", intake.DecodeAlertmanager, amPayload(goodCrashLoop, noAlertname, goodHighErrorRate, badStart, goodGrafanaRule)},
		{"grafana", intake.DecodeGrafana, gfPayload(goodCrashLoop, noAlertname, goodHighErrorRate, badStart, goodGrafanaRule)},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.decode(c.body, judgedAt)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, a := range got.Alerts {
				names = append(names, a.Name())
			}
			if !reflect.DeepEqual(names, []string{"KubePodCrashLooping", "HighErrorRate", "Disk almost full"}) || got.Total != 5 {
				t.Errorf("accepted %v of %d", names, got.Total)
			}
			want := []intake.Rejection{
				{Index: 1, Reason: "the alert has no alertname label"},
				{Index: 3, Alertname: "KubeJobFailed", Reason: `the alert's startsAt "yesterday" is not an RFC 3339 time`},
			}
			if !reflect.DeepEqual(got.Rejected, want) {
				t.Errorf("rejected %+v", got.Rejected)
			}
			hr := got.Alerts[1]
			if !hr.Resolved() || !hr.StartsAt.Equal(time.Date(2026, 11, 30, 8, 0, 0, 5e8, time.UTC)) ||
				!hr.EndsAt.Equal(time.Date(2026, 11, 30, 9, 55, 0, 0, time.UTC)) {
				t.Errorf("HighErrorRate %+v", hr)
			}
			if got.Alerts[0].Fingerprint == "0000000000000000" || got.Alerts[0].Fingerprint != incident.FingerprintOf(got.Alerts[0].Labels) {
				t.Errorf("the sender's fingerprint was kept: %s", got.Alerts[0].Fingerprint)
			}
		})
	}
}

func TestAlertRejections(t *testing.T) {
	ok := `"status":"firing","startsAt":"2026-11-30T09:00:00Z"`
	many := map[string]string{"alertname": "TooManyLabels"}
	for i := range incident.MaxLabels {
		many[fmt.Sprintf("l%d", i)] = "v"
	}
	manyJSON, _ := json.Marshal(many)
	for _, c := range []struct{ name, alert, reason string }{
		{"not an object", `"KubePodCrashLooping"`, "the alert is a string, not an object"},
		{"null", `null`, "the alert is null, not an object"},
		{"no labels", `{` + ok + `}`, "~no labels"},
		{"empty labels", `{"labels":{},` + ok + `}`, "~no labels"},
		{"labels not an object", `{"labels":["alertname"],` + ok + `}`, "the alert's labels: an array where an object belongs"},
		{"label value a number", `{"labels":{"alertname":"X","code":500},` + ok + `}`, "the alert's labels: a number where a string belongs"},
		{"empty alertname", `{"labels":{"alertname":""},` + ok + `}`, "~no alertname"},
		{"empty label name", `{"labels":{"alertname":"X","":"a"},` + ok + `}`, `~label name ""`},
		{"no status", `{"labels":{"alertname":"X"},"startsAt":"2026-11-30T09:00:00Z"}`, `the alert has no status ("firing" or "resolved")`},
		{"pending status", `{"labels":{"alertname":"X"},"status":"pending","startsAt":"2026-11-30T09:00:00Z"}`, `~"pending"`},
		{"status a number", `{"labels":{"alertname":"X"},"status":1,"startsAt":"2026-11-30T09:00:00Z"}`, "the alert's status: a number where a string belongs"},
		{"no startsAt", `{"labels":{"alertname":"X"},"status":"firing"}`, "~no startsAt"},
		{"zero startsAt", `{"labels":{"alertname":"X"},"status":"firing","startsAt":"0001-01-01T00:00:00Z"}`, "~no startsAt"},
		{"startsAt not RFC 3339", `{"labels":{"alertname":"X"},"status":"firing","startsAt":"2026-11-30 09:00:00"}`, `the alert's startsAt "2026-11-30 09:00:00" is not an RFC 3339 time`},
		{"startsAt a number", `{"labels":{"alertname":"X"},"status":"firing","startsAt":1764493200}`, "the alert's startsAt: a number where a string belongs"},
		{"startsAt before 1970", `{"labels":{"alertname":"X"},"status":"firing","startsAt":"1969-12-31T23:59:59Z"}`, "the alert's startsAt 1969-12-31T23:59:59Z is before 1970"},
		{"startsAt in the future", `{"labels":{"alertname":"X"},"status":"firing","startsAt":"2026-11-30T12:00:00Z"}`,
			"the alert's startsAt 2026-11-30T12:00:00Z is 2h0m0s in the future by MeshWatch's clock (more than 15m0s): check the sender's clock"},
		{"resolved in the future", `{"labels":{"alertname":"X"},"status":"resolved","startsAt":"2026-11-30T09:00:00Z","endsAt":"2026-12-01T10:00:00Z"}`,
			"the alert's endsAt 2026-12-01T10:00:00Z is 24h0m0s in the future by MeshWatch's clock (more than 15m0s): check the sender's clock"},
		{"resolved in the far future", `{"labels":{"alertname":"X"},"status":"resolved","startsAt":"2026-11-30T09:00:00Z","endsAt":"9999-12-31T23:59:59Z"}`,
			"the alert's endsAt 9999-12-31T23:59:59Z is 2912109 days in the future by MeshWatch's clock (more than 15m0s): check the sender's clock"},
		{"endsAt not a time", `{"labels":{"alertname":"X"},` + ok + `,"endsAt":"never"}`, `the alert's endsAt "never" is not an RFC 3339 time`},
		{"too many labels", `{"labels":` + string(manyJSON) + `,` + ok + `}`, "~129 labels and annotations"},
		{"oversized annotation", `{"labels":{"alertname":"X"},"annotations":{"description":"` + strings.Repeat("x", incident.MaxValueBytes) + `"},` + ok + `}`,
			`~"description" is larger than 16384 bytes`},
		{"oversized generatorURL", `{"labels":{"alertname":"X"},"generatorURL":"http://p/` + strings.Repeat("x", incident.MaxValueBytes) + `",` + ok + `}`,
			"the alert's generatorURL is 16393 bytes, more than 16384"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for name, body := range map[string][]byte{"alertmanager": amPayload(goodCrashLoop, c.alert), "grafana": gfPayload(goodCrashLoop, c.alert)} {
				decode := intake.DecodeAlertmanager
				if name == "grafana" {
					decode = intake.DecodeGrafana
				}
				got, err := decode(body, judgedAt)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if len(got.Alerts) != 1 || len(got.Rejected) != 1 || got.Rejected[0].Index != 1 || !reasonIs(got.Rejected[0].Reason, c.reason) {
					t.Errorf("%s: accepted %d, rejected %+v\nwant reason %q", name, len(got.Alerts), got.Rejected, c.reason)
				}
			}
		})
	}
}

// reasonIs matches a rejection reason: exactly, or for a want starting
// with "~" (a reason incident.Normalize words) by containing the rest.
func reasonIs(got, want string) bool {
	if rest, ok := strings.CutPrefix(want, "~"); ok {
		return strings.Contains(got, rest)
	}
	return got == want
}

func TestTimesTheSendersUse(t *testing.T) {
	for _, c := range []struct{ name, alert string }{
		// A resolved alert whose endsAt precedes startsAt keeps no end
		// (incident.Normalize's rule) rather than being lost.
		{"resolved, endsAt before startsAt", `{"labels":{"alertname":"X"},"status":"resolved","startsAt":"2026-11-30T09:00:00Z","endsAt":"2026-11-30T08:00:00Z"}`},
		// A firing alert's far-future endsAt (Alertmanager's API gives one)
		// is dropped, not judged.
		{"firing, endsAt ahead", `{"labels":{"alertname":"X"},"status":"firing","startsAt":"2026-11-30T09:00:00Z","endsAt":"2099-01-01T00:00:00Z"}`},
		// A few minutes of clock skew are tolerated.
		{"startsAt 10 minutes ahead", `{"labels":{"alertname":"X"},"status":"firing","startsAt":"2026-11-30T10:10:00Z"}`},
		{"no endsAt field", `{"labels":{"alertname":"X"},"status":"resolved","startsAt":"2026-11-30T09:00:00Z"}`},
	} {
		got, err := intake.DecodeAlertmanager(amPayload(c.alert), judgedAt)
		if err != nil || len(got.Alerts) != 1 {
			t.Errorf("%s: %+v %v", c.name, got, err)
			continue
		}
		if !got.Alerts[0].EndsAt.IsZero() {
			t.Errorf("%s: endsAt %s kept", c.name, got.Alerts[0].EndsAt)
		}
	}
	// A zero now judges no time as being in the future.
	got, err := intake.DecodeAlertmanager(amPayload(`{"labels":{"alertname":"X"},"status":"firing","startsAt":"2099-01-01T00:00:00Z"}`), time.Time{})
	if err != nil || len(got.Alerts) != 1 {
		t.Errorf("zero now: %+v %v", got, err)
	}
}

func TestUnknownFieldsAreTolerated(t *testing.T) {
	body := []byte(`{"version":"4","notification_reason":"new","routeLabels":{"team":"a"},"future":{"x":[1,2,{"y":null}]},
		"alerts":[{"status":"firing","labels":{"alertname":"KubePodCrashLooping","namespace":"media"},"startsAt":"2026-11-30T09:00:00Z",
		"receivers":["x"],"silencedBy":[],"somethingNew":42}]}`)
	got, err := intake.DecodeAlertmanager(body, judgedAt)
	if err != nil || len(got.Alerts) != 1 {
		t.Fatalf("%+v %v", got, err)
	}
	gf := []byte(`{"version":"1","appVersion":"13.1.0","alerts":[{"status":"firing","labels":{"alertname":"A"},"startsAt":"2026-11-30T09:00:00Z",
		"embeddedImage":"iVBORw0KGgo=","enrichments":{"items":[{"type":"logs"}]},"orgId":1,"imageURL":"http://grafana/img/x.png"}]}`)
	got, err = intake.DecodeGrafana(gf, judgedAt)
	if err != nil || len(got.Alerts) != 1 || got.Alerts[0].Annotations[intake.AnnotationGrafanaImageURL] != "http://grafana/img/x.png" {
		t.Fatalf("%+v %v", got, err)
	}
}

// Keys match fields exactly: a key differing only in case is an unknown
// field, ignored, never a second value of the field.
func TestFieldNamesMatchExactly(t *testing.T) {
	body := []byte(`{"version":"4","Alerts":0,"VERSION":"3","alerts":[{"Status":"resolved","status":"firing",
		"Labels":{"alertname":"Other"},"labels":{"alertname":"KubePodCrashLooping"},"startsAt":"2026-11-30T09:00:00Z"}]}`)
	got, err := intake.DecodeAlertmanager(body, judgedAt)
	if err != nil || len(got.Alerts) != 1 || got.Alerts[0].Name() != "KubePodCrashLooping" || got.Alerts[0].Status != incident.StatusFiring {
		t.Fatalf("%+v %v", got, err)
	}
	// encoding/json folds "ſ" (U+017F) to "s": still not "alerts".
	body = []byte(`{"version":"4","alerts":[` + goodCrashLoop + `],"alertſ":5,"ALERTS":null}`)
	if got, err = intake.DecodeAlertmanager(body, judgedAt); err != nil || len(got.Alerts) != 1 {
		t.Fatalf("%+v %v", got, err)
	}
	// Label names keep their case, and a label may be called Status.
	body = amPayload(`{"status":"firing","labels":{"alertname":"A","Status":"degraded","status":"x"},"startsAt":"2026-11-30T09:00:00Z"}`)
	if got, err = intake.DecodeAlertmanager(body, judgedAt); err != nil || len(got.Alerts) != 1 || len(got.Alerts[0].Labels) != 3 ||
		got.Alerts[0].Labels["Status"] != "degraded" {
		t.Fatalf("%+v %v", got, err)
	}
	_, err = intake.DecodeAlertmanager([]byte(`{"Version":"4","alerts":[]}`), judgedAt)
	if !errors.Is(err, intake.ErrSchema) || !strings.HasPrefix(err.Error(), "the payload has no version") {
		t.Fatalf("%v", err)
	}
}

func TestPayloadErrors(t *testing.T) {
	long := strings.Repeat("A", 10_000)
	for _, c := range []struct {
		name string
		body string
		kind error
		msg  string // the whole message
	}{
		{"empty", ``, intake.ErrEmpty, "the body is empty: Alertmanager sends a JSON object"},
		{"whitespace", " \r\n\t ", intake.ErrEmpty, "the body is empty: Alertmanager sends a JSON object"},
		{"not JSON", `version=4`, intake.ErrMalformed, "the body is not well-formed JSON: invalid character 'v' looking for beginning of value at line 1, column 1"},
		{"cut short", "{\"version\":\"4\",\n\"alerts\":[{\"labels\":", intake.ErrMalformed, "the body ends in the middle of a JSON value at line 2, column 21"},
		{"bad token on line 3", "{\"version\":\"4\",\n\"alerts\":[\n  {\"labels\" {}}]}", intake.ErrMalformed,
			"the body is not well-formed JSON: invalid character '{' after object key at line 3, column 13"},
		{"trailing garbage", `{"version":"4","alerts":[]} xyz`, intake.ErrMalformed, "there is more data after the JSON value at line 1, column 29"},
		{"two objects", "{\"version\":\"4\",\"alerts\":[]}\n{\"version\":\"4\",\"alerts\":[]}", intake.ErrMalformed,
			"there is more data after the JSON value at line 2, column 1"},
		{"duplicate key", `{"version":"4","alerts":[],"alerts":[]}`, intake.ErrMalformed, `the key "alerts" appears twice in one object at line 1, column 35`},
		{"duplicate label", `{"version":"4","alerts":[{"labels":{"alertname":"A","alertname":"B"}}]}`, intake.ErrMalformed,
			`the key "alertname" appears twice in one object at line 1, column 63`},
		{"duplicate escaped key", `{"version":"4","alerts":[],"alert\u0073":[]}`, intake.ErrMalformed, `the key "alerts" appears twice in one object at line 1, column 40`},
		{"array", `[{"version":"4"}]`, intake.ErrSchema, "the body is an array, not the JSON object Alertmanager sends"},
		{"string", `"hello"`, intake.ErrSchema, "the body is a string, not the JSON object Alertmanager sends"},
		{"no version", `{"alerts":[]}`, intake.ErrSchema,
			`the payload has no version: Alertmanager's webhook sends version "4" (a custom payload template replaces the payload MeshWatch reads)`},
		{"version 3", `{"version":"3","alerts":[]}`, intake.ErrSchema, `the payload's version is "3", and MeshWatch reads Alertmanager's webhook version "4"`},
		{"Grafana's payload", `{"version":"1","orgId":1,"alerts":[]}`, intake.ErrSchema,
			`the payload's version is "1", and MeshWatch reads Alertmanager's webhook version "4": this is Grafana-managed alerting's webhook; send it to MeshWatch's Grafana intake route`},
		{"version a number", `{"version":4,"alerts":[]}`, intake.ErrSchema, "the payload's version: a number where a string belongs"},
		{"no alerts", `{"version":"4","status":"firing"}`, intake.ErrSchema, "the payload has no alerts array"},
		{"alerts null", `{"version":"4","alerts":null}`, intake.ErrSchema, "the payload has no alerts array"},
		{"alerts an object", `{"version":"4","alerts":{"0":{}}}`, intake.ErrSchema, "the payload's alerts is an object, not an array"},
		{"truncatedAlerts negative", `{"version":"4","truncatedAlerts":-1,"alerts":[]}`, intake.ErrSchema, "the payload's truncatedAlerts: a number where a whole number belongs"},
		{"receiver an object", `{"version":"4","receiver":{},"alerts":[]}`, intake.ErrSchema, "the payload's receiver: an object where a string belongs"},
		{"nested too deep", `{"version":"4","alerts":[],"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, intake.ErrSchema,
			"the JSON is nested more than 64 levels deep at line 1, column 95"},
		// Attacker input is never repeated at length.
		{"long version", `{"version":"` + long + `","alerts":[]}`, intake.ErrSchema,
			`the payload's version is "AAAAAAAAAAAAAAAA…", and MeshWatch reads Alertmanager's webhook version "4"`},
		{"long duplicate key", `{"` + long + `":1,"` + long + `":2}`, intake.ErrMalformed,
			`the key "` + strings.Repeat("A", 64) + `…" appears twice in one object at line 1, column 20008`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := intake.DecodeAlertmanager([]byte(c.body), judgedAt)
			var ie *intake.Error
			if !errors.Is(err, c.kind) || !errors.As(err, &ie) || err.Error() != c.msg {
				t.Fatalf("got %v\nwant %v: %s", err, c.kind, c.msg)
			}
			if len(err.Error()) > 300 {
				t.Errorf("message of %d bytes", len(err.Error()))
			}
		})
	}
}

func TestGrafanaPayloadErrors(t *testing.T) {
	for _, c := range []struct {
		body string
		kind error
		msg  string
	}{
		{``, intake.ErrEmpty, "the body is empty: Grafana sends a JSON object"},
		{`{"version":"4","alerts":[]}`, intake.ErrSchema, `the payload's version is "4", and MeshWatch reads Grafana's webhook version "1": ` +
			`this is Alertmanager's webhook (or a Grafana contact point in Alertmanager-compatible mode); send it to MeshWatch's Alertmanager intake route`},
		{`{"alerts":[],"title":"x"}`, intake.ErrSchema,
			`the payload has no version: Grafana's webhook sends version "1" (a custom payload template replaces the payload MeshWatch reads)`},
		{`{"version":"1","orgId":"1","alerts":[]}`, intake.ErrSchema, "the payload's orgId: a string where a whole number belongs"},
		{`{"version":"1","truncatedAlerts":-2,"alerts":[]}`, intake.ErrSchema, "the payload's truncatedAlerts is negative"},
	} {
		_, err := intake.DecodeGrafana([]byte(c.body), judgedAt)
		if !errors.Is(err, c.kind) || err.Error() != c.msg {
			t.Errorf("%s:\ngot  %v\nwant %s", c.body, err, c.msg)
		}
	}
	// values that are not an object reject that alert only.
	got, err := intake.DecodeGrafana(gfPayload(goodCrashLoop, `{"status":"firing","labels":{"alertname":"A"},"startsAt":"2026-11-30T09:00:00Z","values":[1]}`), judgedAt)
	if err != nil || len(got.Alerts) != 1 || len(got.Rejected) != 1 || got.Rejected[0].Reason != "the alert's values is an array, not an object" {
		t.Errorf("%+v %v", got, err)
	}
}

func TestEmptyAlertsArrayIsAnswered(t *testing.T) {
	got, err := intake.DecodeAlertmanager(amPayload(), judgedAt)
	if err != nil || got.Total != 0 || len(got.Alerts) != 0 || len(got.Rejected) != 0 {
		t.Fatalf("%+v %v", got, err)
	}
}

func TestTruncatedAlertsAreReported(t *testing.T) {
	body := bytes.Replace(amPayload(goodCrashLoop), []byte(`"truncatedAlerts":0`), []byte(`"truncatedAlerts":250`), 1)
	got, err := intake.DecodeAlertmanager(body, judgedAt)
	if err != nil || got.Delivery.TruncatedAlerts != 250 || len(got.Alerts) != 1 {
		t.Fatalf("%+v %v", got, err)
	}
}

func TestRead(t *testing.T) {
	body, err := intake.Read(strings.NewReader("12345"), 5)
	if err != nil || string(body) != "12345" {
		t.Errorf("at the limit: %q %v", body, err)
	}
	_, err = intake.Read(strings.NewReader("123456"), 5)
	if !errors.Is(err, intake.ErrTooLarge) || err.Error() != "the body is larger than 5 bytes, the most MeshWatch takes" {
		t.Errorf("over the limit: %v", err)
	}
	// The default limit applies to a limit of 0, and no more than limit+1
	// bytes are read.
	r := &countingReader{r: io.MultiReader(strings.NewReader("{"), zeros{})}
	_, err = intake.Read(r, 0)
	if !errors.Is(err, intake.ErrTooLarge) || r.n != intake.DefaultLimit+1 {
		t.Errorf("default limit: %v after %d bytes", err, r.n)
	}
	// A handler that wraps the body in http.MaxBytesReader gets the same.
	rec := httptest.NewRecorder()
	mbr := http.MaxBytesReader(rec, io.NopCloser(strings.NewReader(strings.Repeat("x", 100))), 10)
	_, err = intake.Read(mbr, 1000)
	if !errors.Is(err, intake.ErrTooLarge) || intake.HTTPStatus(err) != http.StatusRequestEntityTooLarge {
		t.Errorf("MaxBytesReader: %v", err)
	}
	// A broken connection is not the sender's payload's fault in any typed way.
	_, err = intake.Read(io.MultiReader(strings.NewReader("{"), errReader{}), 100)
	if err == nil || errors.Is(err, intake.ErrTooLarge) || !strings.Contains(err.Error(), "connection reset") {
		t.Errorf("read error: %v", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset by peer") }

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func TestHTTPStatus(t *testing.T) {
	for err, want := range map[error]int{
		nil:                                      200,
		&intake.Error{Kind: intake.ErrEmpty}:     400,
		&intake.Error{Kind: intake.ErrMalformed}: 400,
		&intake.Error{Kind: intake.ErrSchema}:    422,
		&intake.Error{Kind: intake.ErrTooLarge}:  413,
		fmt.Errorf("wrapped: %w", &intake.Error{Kind: intake.ErrSchema}): 422,
		errors.New("reading the body: EOF"):                              400,
	} {
		if got := intake.HTTPStatus(err); got != want {
			t.Errorf("%v: %d, want %d", err, got, want)
		}
	}
}

func TestMalformedErrorsCarryThePosition(t *testing.T) {
	_, err := intake.DecodeGrafana([]byte("{\n  \"version\": \"1\",\n  \"alerts\": [,]\n}"), judgedAt)
	var ie *intake.Error
	if !errors.As(err, &ie) || ie.Line != 3 || ie.Column != 14 || !errors.Is(err, intake.ErrMalformed) {
		t.Fatalf("%#v", err)
	}
}
