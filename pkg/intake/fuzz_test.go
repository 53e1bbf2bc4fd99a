package intake_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/intake"
)

// The fuzzers' seed corpus is testdata/fuzz/<FuzzName>/: the golden
// payloads, edge cases, and what the fuzzers found. `go test ./pkg/intake`
// runs it; `go test -run=^$ -fuzz=FuzzDecodeAlertmanager ./pkg/intake`
// fuzzes.

func FuzzDecodeAlertmanager(f *testing.F) {
	fuzzDecoder(f, intake.DecodeAlertmanager, incident.SourceAlertmanager)
}

func FuzzDecodeGrafana(f *testing.F) {
	fuzzDecoder(f, intake.DecodeGrafana, incident.SourceGrafana)
}

// fuzzNow is the clock the fuzzers judge times by: just after the corpus's
// captured payloads.
var fuzzNow = time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC)

func fuzzDecoder(f *testing.F, decode func([]byte, time.Time) (intake.Parsed, error), source string) {
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := decode(body, fuzzNow)
		dup, depth := referenceWalk(body)
		switch {
		case err == nil && (dup || depth > 64):
			t.Fatalf("accepted a body with a repeated key (%v) or %d levels", dup, depth)
		case errors.Is(err, intake.ErrMalformed) && json.Valid(body) && !dup:
			t.Fatalf("well-formed JSON without a repeated key refused as malformed: %v", err)
		}
		if err != nil {
			checkPayloadError(t, err, got)
			return
		}
		// The payload is structurally valid: every alert of its alerts
		// array (counted by encoding/json on its own; the member named
		// exactly "alerts") is either taken in or rejected, in order.
		var members map[string]json.RawMessage
		var alerts []json.RawMessage
		if err := json.Unmarshal(body, &members); err != nil {
			t.Fatalf("accepted a body encoding/json refuses: %v", err)
		}
		if err := json.Unmarshal(members["alerts"], &alerts); err != nil || alerts == nil {
			t.Fatalf("accepted a payload whose alerts is not an array: %v", err)
		}
		if got.Total != len(alerts) || len(got.Alerts)+len(got.Rejected) != got.Total || got.Skipped != 0 || got.Source != source {
			t.Fatalf("alerts array of %d: total %d, accepted %d, rejected %d, skipped %d, source %q",
				len(alerts), got.Total, len(got.Alerts), len(got.Rejected), got.Skipped, got.Source)
		}
		// Every alert is normalized already: Normalize changes nothing.
		for i, a := range got.Alerts {
			again, err := incident.Normalize(a)
			if err != nil || !reflect.DeepEqual(again, a) {
				t.Fatalf("alert %d is not stable under Normalize: %v\n%+v\n%+v", i, err, a, again)
			}
			if a.Source != source || a.Status == "" || a.StartsAt.Before(time.Unix(0, 0)) || a.StartsAt.After(fuzzNow.Add(intake.MaxClockSkew)) {
				t.Fatalf("alert %d: %+v", i, a)
			}
		}
		last := -1
		for _, r := range got.Rejected {
			if r.Index <= last || r.Index >= got.Total || r.Reason == "" {
				t.Fatalf("rejections out of order or without reason: %+v", got.Rejected)
			}
			last = r.Index
			// Never more than 64 bytes of the sender's input (escaped, a
			// byte can take 6 to show) in what the answer repeats.
			if len(r.Alertname) > 64+len("…") || !utf8.ValidString(r.Alertname) || len(r.Reason) > 64*6+200 {
				t.Fatalf("rejection repeats too much: %+v", r)
			}
		}
		for _, s := range []string{got.Delivery.Receiver, got.Delivery.Status, got.Delivery.GroupKey, got.Delivery.ExternalURL} {
			if len(s) > 256+len("…") {
				t.Fatalf("delivery field of %d bytes", len(s))
			}
		}
	})
}

// checkPayloadError: a whole-payload error is one of the typed errors,
// short, and nothing of the payload is returned.
func checkPayloadError(t *testing.T, err error, got intake.Parsed) {
	t.Helper()
	var ie *intake.Error
	if !errors.As(err, &ie) {
		t.Fatalf("untyped error %T: %v", err, err)
	}
	kinds := 0
	for _, k := range []error{intake.ErrEmpty, intake.ErrMalformed, intake.ErrSchema, intake.ErrTooLarge} {
		if errors.Is(err, k) {
			kinds++
		}
	}
	if kinds != 1 {
		t.Fatalf("error %v is of %d kinds", err, kinds)
	}
	if len(err.Error()) > 64*6+300 || !utf8.ValidString(err.Error()) {
		t.Fatalf("error message of %d bytes: %q", len(err.Error()), err)
	}
	if !reflect.DeepEqual(got, intake.Parsed{}) {
		t.Fatalf("an error with a result: %+v", got)
	}
}

// referenceWalk finds, with encoding/json's token decoder, whether a
// well-formed body repeats a key within an object and how deep it nests:
// the reference the decoders' own walk is held to.
func referenceWalk(body []byte) (dup bool, depth int) {
	if !json.Valid(body) {
		return false, 0
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type frame struct {
		object, keyNow bool
		keys           map[string]bool
	}
	var stack []*frame
	ended := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].keyNow = true
		}
	}
	for started := false; !started || len(stack) > 0; started = true {
		tok, err := dec.Token()
		if err != nil {
			return dup, depth
		}
		if n := len(stack); n > 0 && stack[n-1].keyNow && tok != json.Delim('}') {
			k := tok.(string)
			dup = dup || stack[n-1].keys[k]
			stack[n-1].keys[k], stack[n-1].keyNow = true, false
			continue
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			stack = append(stack, &frame{object: tok == json.Delim('{'), keyNow: tok == json.Delim('{'), keys: map[string]bool{}})
			depth = max(depth, len(stack))
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			ended()
		default:
			ended()
		}
	}
	return dup, depth
}
