// Package intake turns what alert senders send into MeshWatch's one alert
// model (incident.Alert): Alertmanager's webhook (payload version 4),
// Grafana-managed alerting's webhook contact point (version 1), and, for the
// reconcile, Alertmanager's GET /api/v2/alerts and Prometheus's GET
// /api/v1/alerts.
//
// Every alert goes through incident.Normalize. A webhook payload is judged
// in two layers:
//
//   - the payload as a whole: an empty body (ErrEmpty), a body that is not
//     one well-formed JSON value, has a key twice in one object, or has data
//     after it (ErrMalformed, with the line and column), a body that is JSON
//     but not the sender's payload (ErrSchema: wrong version, no alerts
//     array, wrong types in the payload's own fields), and a body over the
//     byte limit (ErrTooLarge, from Read). Nothing of such a payload is kept.
//   - each alert of a well-formed payload: a bad one (no labels, no
//     alertname, bad status, bad or implausible times, oversized) becomes a
//     Rejection with its index and reason, and its valid siblings are kept.
//
// Fields the decoders do not know are ignored (senders add fields across
// versions). Field names match exactly, as the senders write them: a key
// that differs from a known field's name only in case ("Alerts") is an
// unknown field, not a second value for that field.
//
// Error messages and rejection reasons name the reason and never repeat
// more than 64 bytes of what the sender sent.
//
// This package must not import pkg/incidents (which imports it): its
// Rejection mirrors incidents.Rejection field for field.
package intake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/meshwatch/meshwatch/pkg/incident"
)

// DefaultLimit is the largest webhook body Read accepts: 4 MiB.
//
// Alertmanager sends a group's alerts in one POST, with no cap unless the
// receiver sets max_alerts; Grafana-managed alerting batches the same way.
// A kube-prometheus-stack alert such as KubePodCrashLooping takes about
// 1 KiB of payload (a dozen labels, three annotations, a generatorURL
// carrying the PromQL: 1,059 bytes in the golden payload captured from a
// real Alertmanager), so 4 MiB holds a group of about 3,950 alerts: a
// namespace-wide outage, or the 1,000-alert burst of the crash test in one
// group, with room to spare. Decoding a full 4 MiB body allocates about
// 23 MB (TestFullSizeBodyDecodes), which the plugin's 60 MB busy-RSS budget
// takes; the 16 MiB the plugin SDK's gRPC server accepts from Grafana would
// not fit it.
const DefaultLimit int64 = 4 << 20

// MaxClockSkew is how far in the future (by the receiver's clock) an
// alert's startsAt, or a resolved alert's endsAt, may be before the alert
// is rejected as coming from a sender whose clock is wrong.
const MaxClockSkew = 15 * time.Minute

// The whole-payload errors. Every error the decoders return is an *Error
// whose Kind is one of them (errors.Is works), so a handler can map them to
// HTTP statuses with HTTPStatus.
var (
	// ErrEmpty: the body is empty or only whitespace (400).
	ErrEmpty = errors.New("empty body")
	// ErrMalformed: the body is not one well-formed JSON value, repeats a
	// key within one object, or has data after its value (400).
	ErrMalformed = errors.New("malformed JSON")
	// ErrSchema: the body is JSON but not the sender's payload: wrong
	// version, no alerts array, a payload field of the wrong type (422).
	ErrSchema = errors.New("not the expected payload")
	// ErrTooLarge: the body is over the byte limit (413).
	ErrTooLarge = errors.New("body too large")
)

// Error is a whole-payload error.
type Error struct {
	// Kind is ErrEmpty, ErrMalformed, ErrSchema or ErrTooLarge.
	Kind error
	// Msg is the full message (what Error returns).
	Msg string
	// Line and Column (1-based) locate a malformed body's fault; 0 when the
	// error has no position.
	Line, Column int
}

func (e *Error) Error() string { return e.Msg }

// Unwrap makes errors.Is(err, ErrMalformed) and its siblings work.
func (e *Error) Unwrap() error { return e.Kind }

func errorf(kind error, format string, args ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// HTTPStatus is the status a webhook handler answers a decoder or Read
// error with: 400 for ErrEmpty and ErrMalformed, 413 for ErrTooLarge, 422
// for ErrSchema, 400 for any other error reading the body (the sender's
// connection), 200 for nil.
func HTTPStatus(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrSchema):
		return http.StatusUnprocessableEntity
	default:
		return http.StatusBadRequest
	}
}

// Read reads a webhook body of at most limit bytes (DefaultLimit when limit
// is not positive). A longer body is ErrTooLarge, and at most limit+1 bytes
// of it are read. A failing reader's error is returned wrapped, untyped.
func Read(r io.Reader, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	body, err := io.ReadAll(io.LimitReader(r, limit+1))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, errorf(ErrTooLarge, "the body is larger than %d bytes, the most MeshWatch takes", mbe.Limit)
	case err != nil:
		return nil, fmt.Errorf("reading the body: %w", err)
	case int64(len(body)) > limit:
		return nil, errorf(ErrTooLarge, "the body is larger than %d bytes, the most MeshWatch takes", limit)
	}
	return body, nil
}

// Rejection is one alert of a payload that was not taken in. It mirrors
// incidents.Rejection.
type Rejection struct {
	// Index is the alert's position in the payload's alerts array (or in
	// the list given to FromAlertmanagerAPI / FromPrometheus).
	Index int `json:"index"`
	// Alertname is its alertname label when it has one (at most 64 bytes).
	Alertname string `json:"alertname,omitempty"`
	// Reason says what is wrong with it.
	Reason string `json:"reason"`
}

// Delivery is what a webhook payload says about itself, around its alerts.
// Strings are the sender's, cut to 256 bytes.
type Delivery struct {
	Receiver string
	// Status is the group's status ("firing" if any alert fires).
	Status      string
	GroupKey    string
	ExternalURL string
	// TruncatedAlerts counts alerts the sender left out of this payload
	// (its max_alerts): they are not in Alerts or Rejected. The reconcile
	// catches them up.
	TruncatedAlerts int
	// OrgID is Grafana's organization (Grafana's webhook only; 0 otherwise).
	OrgID int64
}

// Parsed is what a decoder made of a payload. Alerts and Rejected keep
// payload order, and len(Alerts)+len(Rejected)+Skipped == Total.
type Parsed struct {
	// Source is incident.SourceAlertmanager, SourceGrafana or
	// SourcePrometheus.
	Source string
	// Alerts are the valid alerts, each as incident.Normalize returned it.
	Alerts []incident.Alert
	// Rejected are the invalid ones, with their reasons.
	Rejected []Rejection
	// Skipped counts alerts that are fine but not taken in: Prometheus's
	// pending (and inactive) alerts. Always 0 for the webhooks.
	Skipped int
	// Total is the length of the payload's alerts array (or of the list).
	Total int
	// Delivery describes a webhook payload; zero for the reconcile inputs.
	Delivery Delivery
}

// firstClause is a decoder message without its "json: " prefix, cut short.
func firstClause(s string) string {
	return cut(strings.TrimPrefix(s, "json: "), 96)
}

// located is an *Error of kind with the 1-based line and column of the
// byte at offset, a count of bytes read of which the fault is the last (as
// the JSON scanner counts; len(body)+1 is the end of the body).
func located(kind error, body []byte, offset int64, format string, args ...any) *Error {
	if offset > int64(len(body))+1 {
		offset = int64(len(body)) + 1
	}
	if offset < 1 {
		offset = 1
	}
	before := body[:offset-1]
	line := bytes.Count(before, []byte{'\n'}) + 1
	col := utf8.RuneCount(before[bytes.LastIndexByte(before, '\n')+1:]) + 1
	e := errorf(kind, "%s at line %d, column %d", fmt.Sprintf(format, args...), line, col)
	e.Line, e.Column = line, col
	return e
}

// kindOf names the JSON kind of a raw value ("" when raw is empty).
func kindOf(raw json.RawMessage) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// typeError explains a json.UnmarshalTypeError in terms of the payload:
// "labels: a number where a string belongs". Field paths are the
// decoder's (struct field names, never map keys) and the sender's value
// is named by its kind only.
func typeError(prefix string, err error) string {
	var ute *json.UnmarshalTypeError
	if !errors.As(err, &ute) {
		return prefix + "cannot be decoded: " + firstClause(err.Error())
	}
	got, _, _ := strings.Cut(ute.Value, " ") // "number -1": the kind only
	field := strings.NewReplacer("payload.", "", "wireAlert.", "").Replace(ute.Field)
	if field == "" {
		field = "the value"
	}
	return fmt.Sprintf("%s%s: %s %s where %s belongs", prefix, cut(field, 64), article(got), got, goKind(ute.Type))
}

func article(kind string) string {
	switch kind {
	case "array", "object":
		return "an"
	}
	return "a"
}

// goKind names the JSON kind a Go type decodes from.
func goKind(t reflect.Type) string {
	if t == nil {
		return "another kind of value"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "a boolean"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "another kind of value"
}

// cut shortens s to at most n bytes (on a rune boundary), marking the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
