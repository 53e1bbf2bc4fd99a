package intake

import (
	"time"

	"github.com/meshwatch/meshwatch/pkg/incident"
)

// Alertmanager's webhook payload, version 4, as prometheus/alertmanager
// sends it (read at main, August 2026; the harness runs 0.31.1):
//
//   - notify/webhook/webhook.go: Message{*template.Data; Version "4";
//     GroupKey string; TruncatedAlerts uint64}, JSON-encoded and POSTed.
//     When the receiver sets a custom payload template, that replaces the
//     whole message (no version: MeshWatch answers 422 and says so).
//   - template/template.go: Data{Receiver, Status, Alerts, GroupLabels,
//     CommonLabels, CommonAnnotations, ExternalURL} (main also has
//     notification_reason and routeLabels; ignored here) and
//     Alert{Status, Labels, Annotations, StartsAt, EndsAt, GeneratorURL,
//     Fingerprint}. A firing alert's endsAt is "0001-01-01T00:00:00Z".
//
// The structs are written here rather than imported: the alertmanager
// module is too heavy for the plugin binary.

// AlertmanagerVersion is the webhook payload version DecodeAlertmanager
// reads.
const AlertmanagerVersion = "4"

// amMessage is notify/webhook.Message with template.Data inlined.
type amMessage struct {
	payload
	GroupKey        string `json:"groupKey"`
	TruncatedAlerts uint64 `json:"truncatedAlerts"`

	Receiver          string            `json:"receiver"`
	Status            string            `json:"status"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
}

// amAlert is template.Alert.
type amAlert = wireAlert

// DecodeAlertmanager decodes Alertmanager's webhook payload (version 4)
// into alerts with source incident.SourceAlertmanager, judged at now. The
// error, if any, is an *Error (ErrEmpty, ErrMalformed, ErrSchema) and then
// nothing of the payload is taken; otherwise each alert is either in
// Alerts or in Rejected.
func DecodeAlertmanager(body []byte, now time.Time) (Parsed, error) {
	var msg amMessage
	fold, err := decodePayload(body, &msg, &msg.payload, "Alertmanager", AlertmanagerVersion, map[string]string{
		GrafanaVersion: "this is Grafana-managed alerting's webhook; send it to MeshWatch's Grafana intake route",
	})
	if err != nil {
		return Parsed{}, err
	}
	out := Parsed{
		Source: incident.SourceAlertmanager,
		Total:  len(msg.Alerts),
		Delivery: Delivery{
			Receiver: cut(msg.Receiver, 256), Status: cut(msg.Status, 256), GroupKey: cut(msg.GroupKey, 256),
			ExternalURL: cut(msg.ExternalURL, 256), TruncatedAlerts: clampInt(msg.TruncatedAlerts),
		},
	}
	for i, raw := range msg.Alerts {
		var w amAlert
		name, err := decodeAlert(raw, &w, &w, fold)
		if err == nil {
			var a incident.Alert
			if a, err = build(w, incident.SourceAlertmanager, now, nil); err == nil {
				out.Alerts = append(out.Alerts, a)
				continue
			}
		}
		out.Rejected = append(out.Rejected, reject(i, name, err))
	}
	return out, nil
}

func clampInt(n uint64) int {
	const maxInt = int(^uint(0) >> 1)
	if n > uint64(maxInt) {
		return maxInt
	}
	return int(n)
}
