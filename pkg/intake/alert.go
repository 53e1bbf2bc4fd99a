package intake

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/meshwatch/meshwatch/pkg/incident"
)

// wireAlert is the part of one alert that Alertmanager's webhook, Grafana's
// webhook and Alertmanager's API share. Times stay text here: parseTime
// reads them, so a bad one is refused with a short message of our own
// (time.Time's would repeat all of the sender's text).
type wireAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	// Fingerprint is the sender's; MeshWatch recomputes it from the labels
	// (incident.Normalize), so every source agrees.
	Fingerprint string `json:"fingerprint"`
}

// payload is the part of both webhook payloads that locates the alerts.
type payload struct {
	// Version is a pointer so a missing version is told apart from "".
	Version *string `json:"version"`
	// Alerts stay raw: each alert is decoded on its own, so one bad alert
	// does not take its siblings down. Missing or null: nil.
	Alerts []json.RawMessage `json:"alerts"`
}

// decodePayload checks body and decodes it into msg (a webhook message
// struct embedding a payload at p). sender and version name the expected
// format for messages; other maps a foreign version to advice. fold is
// checkJSON's: whether the alerts must be decoded by exactly.
func decodePayload(body []byte, msg any, p *payload, sender, version string, other map[string]string) (fold bool, err error) {
	if len(trimSpace(body)) == 0 {
		return false, errorf(ErrEmpty, "the body is empty: %s sends a JSON object", sender)
	}
	if fold, err = checkJSON(body); err != nil {
		return false, err
	}
	if k := kindOf(body); k != "an object" {
		return false, errorf(ErrSchema, "the body is %s, not the JSON object %s sends", k, sender)
	}
	typeErr := unmarshal(body, msg, fold)
	var ute *json.UnmarshalTypeError
	field := ""
	if errors.As(typeErr, &ute) {
		field = ute.Field
	}
	switch {
	case field == "payload.version":
		return false, errorf(ErrSchema, "%s", typeError("the payload's ", typeErr))
	case p.Version == nil && typeErr == nil:
		return false, errorf(ErrSchema, "the payload has no version: %s's webhook sends version %q "+
			"(a custom payload template replaces the payload MeshWatch reads)", sender, version)
	case p.Version != nil && *p.Version != version:
		msg := fmt.Sprintf("the payload's version is %q, and MeshWatch reads %s's webhook version %q", cut(*p.Version, 16), sender, version)
		if advice := other[*p.Version]; advice != "" {
			msg += ": " + advice
		}
		return false, errorf(ErrSchema, "%s", msg)
	case field == "payload.alerts":
		got, _, _ := strings.Cut(ute.Value, " ")
		return false, errorf(ErrSchema, "the payload's alerts is %s %s, not an array", article(got), got)
	case typeErr != nil:
		return false, errorf(ErrSchema, "%s", typeError("the payload's ", typeErr))
	case p.Alerts == nil:
		return false, errorf(ErrSchema, "the payload has no alerts array")
	}
	return fold, nil
}

// unmarshal decodes the JSON object raw into v, a pointer to a wire
// struct: by exactly when fold says some key of the body differs from a
// field's name only in case, else by json.Unmarshal (the same then).
func unmarshal(raw []byte, v any, fold bool) error {
	if fold {
		return exactly(raw, v)
	}
	return json.Unmarshal(raw, v)
}

// exactly decodes the JSON object raw into v, a pointer to a wire struct,
// matching keys to v's fields exactly: a key that differs from a field's
// name only in case ("Alerts") is an unknown field and ignored, rather
// than, as encoding/json has it, a second value for that field that
// silently wins or loses.
func exactly(raw []byte, v any) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return err
	}
	names := fieldNames(reflect.TypeOf(v).Elem())
	for k := range members {
		if !names[k] {
			delete(members, k)
		}
	}
	known, err := json.Marshal(members)
	if err != nil {
		return err
	}
	return json.Unmarshal(known, v)
}

var fieldNamesOf sync.Map // reflect.Type -> map[string]bool

// fieldNames is the set of JSON member names of struct type t, with those
// of its embedded structs.
func fieldNames(t reflect.Type) map[string]bool {
	if m, ok := fieldNamesOf.Load(t); ok {
		return m.(map[string]bool)
	}
	names := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			for n := range fieldNames(f.Type) {
				names[n] = true
			}
			continue
		}
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
			names[name] = true
		}
	}
	fieldNamesOf.Store(t, names)
	return names
}

// decodeAlert decodes one raw alert of a webhook payload into into (a
// struct holding a wireAlert at w) and returns the alert built from it by
// convert, or why it is rejected.
func decodeAlert(raw json.RawMessage, into any, w *wireAlert, fold bool) (alertname string, err error) {
	if k := kindOf(raw); k != "an object" {
		return "", fmt.Errorf("the alert is %s, not an object", k)
	}
	err = unmarshal(raw, into, fold)
	alertname = cut(w.Labels["alertname"], 64)
	if err != nil {
		return alertname, fmt.Errorf("%s", typeError("the alert's ", err))
	}
	return alertname, nil
}

// build turns a decoded alert into the alert model: times parsed and
// checked against now (zero now: no check of the future), the
// generatorURL bounded, then incident.Normalize.
func build(w wireAlert, source string, now time.Time, extra map[string]string) (incident.Alert, error) {
	if w.Status == "" {
		return incident.Alert{}, fmt.Errorf("the alert has no status (%q or %q)", incident.StatusFiring, incident.StatusResolved)
	}
	starts, err := parseTime("startsAt", w.StartsAt)
	if err != nil {
		return incident.Alert{}, err
	}
	ends, err := parseTime("endsAt", w.EndsAt)
	if err != nil {
		return incident.Alert{}, err
	}
	a := incident.Alert{
		Status: incident.Status(w.Status), Labels: w.Labels, Annotations: w.Annotations,
		StartsAt: starts, EndsAt: ends, GeneratorURL: w.GeneratorURL, Source: source,
	}
	if err := plausible(a, now); err != nil {
		return incident.Alert{}, err
	}
	if len(extra) > 0 {
		ann := make(map[string]string, len(a.Annotations)+len(extra))
		for k, v := range a.Annotations {
			ann[k] = v
		}
		for k, v := range extra {
			ann[k] = v
		}
		a.Annotations = ann
	}
	return incident.Normalize(a)
}

// epoch is the earliest time an alert may carry: nothing fired before 1970,
// and a store may count time from there.
var epoch = time.Unix(0, 0).UTC()

// plausible refuses what Normalize lets through but no real sender
// produces: a generatorURL longer than incident.MaxValueBytes, and times
// before 1970 or (by more than MaxClockSkew) after now, for startsAt and
// for a resolved alert's endsAt. A firing alert's endsAt is not judged:
// Normalize drops it. A zero now skips the check of the future.
func plausible(a incident.Alert, now time.Time) error {
	if n := len(a.GeneratorURL); n > incident.MaxValueBytes {
		return fmt.Errorf("the alert's generatorURL is %d bytes, more than %d", n, incident.MaxValueBytes)
	}
	check := func(name string, t time.Time) error {
		switch {
		case t.IsZero():
			return nil
		case t.Before(epoch):
			return fmt.Errorf("the alert's %s %s is before 1970", name, t.UTC().Format(time.RFC3339))
		case !now.IsZero() && t.After(now.Add(MaxClockSkew)):
			return fmt.Errorf("the alert's %s %s is %s in the future by MeshWatch's clock (more than %s): check the sender's clock",
				name, t.UTC().Format(time.RFC3339), ahead(t, now), MaxClockSkew)
		}
		return nil
	}
	if err := check("startsAt", a.StartsAt); err != nil {
		return err
	}
	if a.Status == incident.StatusResolved {
		return check("endsAt", a.EndsAt)
	}
	return nil
}

// ahead says how far t is after now: "2h0m0s", or in days from two days
// on (a time.Duration saturates after 292 years).
func ahead(t, now time.Time) string {
	if d := t.Sub(now); d < 48*time.Hour {
		return d.Round(time.Second).String()
	}
	return fmt.Sprintf("%d days", (t.Unix()-now.Unix())/86400)
}

// parseTime reads an RFC 3339 time; "" and Alertmanager's
// "0001-01-01T00:00:00Z" are the zero time.
func parseTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("the alert's %s %q is not an RFC 3339 time", name, cut(s, 40))
	}
	return t, nil
}

// reject is the Rejection of the alert at index.
func reject(index int, alertname string, err error) Rejection {
	return Rejection{Index: index, Alertname: alertname, Reason: err.Error()}
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// isSpace is JSON's whitespace.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
