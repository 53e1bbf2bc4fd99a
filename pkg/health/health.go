// Package health checks MeshWatch's dependencies one by one (reachable or
// not, version where the API tells it, latency) and folds the results into an
// overall status: a required dependency that fails is an error, an optional
// one is a warning. Every failure message tells the admin what to fix.
package health

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/meshwatch/meshwatch/pkg/upstream"
)

// The statuses by their short names, as MeshWatch's Go code writes them
// (report.go declares them for the browser too).
const (
	OK       = StatusOK
	Disabled = StatusDisabled
	Warning  = StatusWarning
	Error    = StatusError
)

// Outcome is what a probe found out.
type Outcome struct {
	Version string
	// Note adds a fact to a healthy line (e.g. "model phi3:mini present").
	Note string
	// Warn, when set, downgrades a reachable dependency to a warning
	// (e.g. the model is not pulled yet) and says what to do.
	Warn string
	// Disabled marks a dependency switched off in the settings.
	Disabled bool
}

// Probe checks one dependency.
type Probe func(ctx context.Context) (Outcome, error)

// Check is one dependency to probe.
type Check struct {
	Name     string
	Target   string // URL or path shown to the admin
	Required bool
	Probe    Probe
	// Fix is the setting to look at when the probe fails ("prometheus.url").
	Fix string
}

// Run probes every check concurrently, each bounded by perCheck, and returns
// the results in the order of checks.
func Run(ctx context.Context, checks []Check, perCheck time.Duration) Report {
	results := make([]Result, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = runOne(ctx, c, perCheck)
		}()
	}
	wg.Wait()
	return Summarize(results)
}

// Summarize folds results into a report.
func Summarize(results []Result) Report {
	worst := OK
	counts := map[Status]int{}
	for _, r := range results {
		counts[r.Status]++
		if r.Status.rank() > worst.rank() {
			worst = r.Status
		}
	}
	if worst == Disabled {
		worst = OK
	}
	var summary string
	switch worst {
	case OK:
		summary = fmt.Sprintf("MeshWatch is ready: %d dependencies reachable", counts[OK])
	case Warning:
		summary = fmt.Sprintf("MeshWatch works with reduced features: %d optional %s need attention", counts[Warning], plural(counts[Warning], "dependency", "dependencies"))
	default:
		summary = fmt.Sprintf("MeshWatch cannot work: %d required %s failing", counts[Error], plural(counts[Error], "dependency is", "dependencies are"))
	}
	if counts[Disabled] > 0 {
		summary += fmt.Sprintf(" (%d disabled)", counts[Disabled])
	}
	return Report{Status: worst, Summary: summary, Results: results}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func runOne(ctx context.Context, c Check, perCheck time.Duration) Result {
	ctx, cancel := context.WithTimeout(ctx, perCheck)
	defer cancel()
	start := time.Now()
	out, err := c.Probe(ctx)
	res := Result{Name: c.Name, Target: c.Target, Required: c.Required, Version: out.Version,
		Probed: !out.Disabled, LatencyMS: time.Since(start).Milliseconds()}
	switch {
	case err != nil:
		res.Status = Warning
		if c.Required {
			res.Status = Error
		}
		res.Message = explain(c, err, perCheck)
	case out.Disabled:
		res.Status = Disabled
		res.Message = out.Note
	case out.Warn != "":
		res.Status = Warning
		res.Message = out.Warn
	default:
		res.Status = OK
		res.Message = c.Target
		if strings.Contains(c.Target, "://") {
			res.Message = "reachable at " + c.Target
		}
		if out.Note != "" {
			res.Message += "; " + out.Note
		}
	}
	return res
}

// explain turns a probe error into advice.
func explain(c Check, err error, perCheck time.Duration) string {
	fix := ""
	if c.Fix != "" {
		fix = " Check " + c.Fix + " in the app settings."
	}
	var ue *upstream.Error
	if errors.As(err, &ue) {
		switch {
		case ue.Timeout() || errors.Is(err, context.DeadlineExceeded):
			return fmt.Sprintf("no answer from %s within %s: the service is down, slow, or the address is wrong.%s", c.Target, perCheck, fix)
		case ue.Status == 0:
			return fmt.Sprintf("cannot connect to %s (%v).%s", c.Target, ue.Err, fix)
		case ue.Status == http.StatusUnauthorized || ue.Status == http.StatusForbidden:
			return fmt.Sprintf("%s refused the credentials (HTTP %d): set or renew the token in the secret field.%s", c.Target, ue.Status, fix)
		case ue.Status == http.StatusNotFound:
			return fmt.Sprintf("%s answered 404: the URL does not point at the %s API root (through Grafana use <grafana>/api/datasources/proxy/uid/<uid>).%s", c.Target, c.Name, fix)
		default:
			return ue.Error() + "." + fix
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("no answer within %s.%s", perCheck, fix)
	}
	return err.Error() + "." + fix
}
