package health

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/upstream"
)

func TestOverallStatusRequiredVersusOptional(t *testing.T) {
	ok := func(context.Context) (Outcome, error) { return Outcome{Version: "1"}, nil }
	bad := func(context.Context) (Outcome, error) { return Outcome{}, errors.New("boom") }
	cases := []struct {
		checks []Check
		want   Status
		text   string
	}{
		{[]Check{{Name: "A", Required: true, Probe: ok}, {Name: "B", Probe: ok}}, OK, "ready: 2 dependencies"},
		{[]Check{{Name: "A", Required: true, Probe: ok}, {Name: "B", Probe: bad}}, Warning, "reduced features: 1 optional dependency"},
		{[]Check{{Name: "A", Required: true, Probe: bad}, {Name: "B", Probe: bad}}, Error, "cannot work: 1 required dependency is failing"},
		{[]Check{{Name: "A", Required: true, Probe: ok}, {Name: "K", Probe: DisabledProbe("off")}}, OK, "(1 disabled)"},
	}
	for _, c := range cases {
		r := Run(context.Background(), c.checks, time.Second)
		if r.Status != c.want || !strings.Contains(r.Summary, c.text) {
			t.Errorf("got %s %q, want %s containing %q", r.Status, r.Summary, c.want, c.text)
		}
		if lines := strings.Split(r.Text(), "\n"); len(lines) != len(c.checks)+1 {
			t.Errorf("want one line per dependency plus the summary:\n%s", r.Text())
		}
	}
}

// The system probes' failure lines are tested with each system
// (pkg/systems/internal/systemtest); this one needs no server.
func TestFailureMessagesTellWhatToFix(t *testing.T) {
	at := "http://tempo:3200"
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&upstream.Error{Service: "Tempo", URL: at, Status: http.StatusForbidden}, "refused the credentials (HTTP 403)"},
		{&upstream.Error{Service: "Tempo", URL: at, Err: context.DeadlineExceeded}, "no answer from " + at + " within 200ms"},
		{&upstream.Error{Service: "Tempo", URL: at, Status: http.StatusNotFound}, "does not point at the Tempo API root"},
		{&upstream.Error{Service: "Tempo", URL: at, Err: errors.New("connection refused")}, "cannot connect to " + at + " (connection refused)"},
		{errors.New("egress blocked"), "egress blocked."},
	} {
		r := Run(context.Background(), []Check{{Name: "Tempo", Target: at, Fix: "tempo.url", Probe: FailedProbe(tc.err)}}, 200*time.Millisecond)
		msg := r.Results[0].Message
		if r.Results[0].Status != Warning || !strings.Contains(msg, tc.want) || !strings.Contains(msg, "Check tempo.url") {
			t.Errorf("%v: %s %q", tc.err, r.Results[0].Status, msg)
		}
	}
}
