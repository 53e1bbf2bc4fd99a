package intake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/meshwatch/meshwatch/pkg/incident"
)

// Grafana-managed alerting's webhook contact point payload, as grafana/alerting
// sends it (read at main, August 2026):
//
//   - receivers/webhook/v1/webhook.go: webhookMessage{*templates.ExtendedData;
//     Version "1"; GroupKey; TruncatedAlerts int; OrgID int64 "orgId";
//     Title; State; Message}, JSON-encoded. A custom payload template
//     replaces it (no version: MeshWatch answers 422 and says so).
//   - templates/template_data.go: ExtendedData{Receiver, Status, Alerts,
//     GroupLabels, CommonLabels, CommonAnnotations, ExternalURL, AppVersion}
//     and ExtendedAlert{Status, Labels, Annotations, StartsAt, EndsAt,
//     GeneratorURL, Fingerprint, SilenceURL, DashboardURL, PanelURL,
//     RuleUID, Values, ValueString, ImageURL, EmbeddedImage, OrgID,
//     enrichments}.
//
// Grafana strips "private" labels and annotations (keys that begin and end
// with "__", such as __alert_rule_uid__ and __dashboardUid__) before it
// sends (templates.removePrivateItems), while its fingerprint is of the full
// label set; MeshWatch's fingerprint, recomputed from the labels it
// receives, therefore differs from the payload's. A Grafana-managed alert's
// own labels include grafana_folder (the rule's folder title).
//
// Grafana's "Test" button on a contact point sends one alert named
// TestAlert (labels alertname=TestAlert, instance=Grafana): it decodes like
// any other.

// GrafanaVersion is the webhook payload version DecodeGrafana reads.
const GrafanaVersion = "1"

// The annotations DecodeGrafana keeps Grafana's per-alert links and values
// in, so the page can link them. Their names begin and end with "__", the
// keys Grafana removes from the annotations it sends, so they never collide
// with a rule's own annotation. Each is set only when Grafana's field is
// not empty.
const (
	// AnnotationGrafanaDashboardURL is the alert's dashboard in Grafana
	// (dashboardURL, with a time range around the alert).
	AnnotationGrafanaDashboardURL = "__grafana_dashboard_url__"
	// AnnotationGrafanaPanelURL is the alert's panel (panelURL).
	AnnotationGrafanaPanelURL = "__grafana_panel_url__"
	// AnnotationGrafanaSilenceURL opens Grafana's new-silence form for the
	// alert (silenceURL).
	AnnotationGrafanaSilenceURL = "__grafana_silence_url__"
	// AnnotationGrafanaImageURL is a screenshot of the alert's panel
	// (imageURL).
	AnnotationGrafanaImageURL = "__grafana_image_url__"
	// AnnotationGrafanaRuleUID is the alert rule's uid (ruleUID).
	AnnotationGrafanaRuleUID = "__grafana_rule_uid__"
	// AnnotationGrafanaValues is the values of the rule's expressions that
	// set the state, as compact JSON ({"B":44.2,"C":1}).
	AnnotationGrafanaValues = "__grafana_values__"
	// AnnotationGrafanaValueString is Grafana's older text form of them
	// (valueString: "[ var='B' labels={...} value=44.2 ]").
	AnnotationGrafanaValueString = "__grafana_value_string__"
)

// gfMessage is webhookMessage with templates.ExtendedData inlined.
type gfMessage struct {
	payload
	GroupKey        string `json:"groupKey"`
	TruncatedAlerts int64  `json:"truncatedAlerts"`
	OrgID           int64  `json:"orgId"`
	Title           string `json:"title"`
	State           string `json:"state"`
	Message         string `json:"message"`

	Receiver          string            `json:"receiver"`
	Status            string            `json:"status"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	AppVersion        string            `json:"appVersion"`
}

// gfAlert is templates.ExtendedAlert (imageURL's inline sibling
// embeddedImage, orgId and enrichments are not read).
type gfAlert struct {
	wireAlert
	SilenceURL   string          `json:"silenceURL"`
	DashboardURL string          `json:"dashboardURL"`
	PanelURL     string          `json:"panelURL"`
	RuleUID      string          `json:"ruleUID"`
	ImageURL     string          `json:"imageURL"`
	Values       json.RawMessage `json:"values"`
	ValueString  string          `json:"valueString"`
}

// extra is the annotations a Grafana alert's own fields add.
func (g gfAlert) extra() (map[string]string, error) {
	out := map[string]string{}
	for k, v := range map[string]string{
		AnnotationGrafanaDashboardURL: g.DashboardURL,
		AnnotationGrafanaPanelURL:     g.PanelURL,
		AnnotationGrafanaSilenceURL:   g.SilenceURL,
		AnnotationGrafanaImageURL:     g.ImageURL,
		AnnotationGrafanaRuleUID:      g.RuleUID,
		AnnotationGrafanaValueString:  g.ValueString,
	} {
		if v != "" {
			out[k] = v
		}
	}
	switch k := kindOf(g.Values); k {
	case "", "null":
	case "an object":
		var b bytes.Buffer
		if err := json.Compact(&b, g.Values); err != nil { // checkJSON passed: cannot fail
			return nil, fmt.Errorf("the alert's values cannot be read")
		}
		if b.String() != "{}" {
			out[AnnotationGrafanaValues] = b.String()
		}
	default:
		return nil, fmt.Errorf("the alert's values is %s, not an object", k)
	}
	return out, nil
}

// DecodeGrafana decodes Grafana-managed alerting's webhook contact point
// payload (version 1) into alerts with source incident.SourceGrafana,
// judged at now; Grafana's per-alert links and values become the
// AnnotationGrafana* annotations. Errors and results are as
// DecodeAlertmanager's; Delivery.OrgID is the payload's orgId.
func DecodeGrafana(body []byte, now time.Time) (Parsed, error) {
	var msg gfMessage
	fold, err := decodePayload(body, &msg, &msg.payload, "Grafana", GrafanaVersion, map[string]string{
		AlertmanagerVersion: "this is Alertmanager's webhook (or a Grafana contact point in Alertmanager-compatible mode); " +
			"send it to MeshWatch's Alertmanager intake route",
	})
	if err != nil {
		return Parsed{}, err
	}
	if msg.TruncatedAlerts < 0 {
		return Parsed{}, errorf(ErrSchema, "the payload's truncatedAlerts is negative")
	}
	out := Parsed{
		Source: incident.SourceGrafana,
		Total:  len(msg.Alerts),
		Delivery: Delivery{
			Receiver: cut(msg.Receiver, 256), Status: cut(msg.Status, 256), GroupKey: cut(msg.GroupKey, 256),
			ExternalURL: cut(msg.ExternalURL, 256), TruncatedAlerts: clampInt(uint64(msg.TruncatedAlerts)), OrgID: msg.OrgID,
		},
	}
	for i, raw := range msg.Alerts {
		var g gfAlert
		name, err := decodeAlert(raw, &g, &g.wireAlert, fold)
		if err == nil {
			var extra map[string]string
			if extra, err = g.extra(); err == nil {
				var a incident.Alert
				if a, err = build(g.wireAlert, incident.SourceGrafana, now, extra); err == nil {
					out.Alerts = append(out.Alerts, a)
					continue
				}
			}
		}
		out.Rejected = append(out.Rejected, reject(i, name, err))
	}
	return out, nil
}
