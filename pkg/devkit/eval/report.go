package eval

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/meshwatch/meshwatch/pkg/evidence"
	"github.com/meshwatch/meshwatch/pkg/findings"
)

// WriteTable prints one line per fault (a control run's line expects
// none): scenario, expected workload and cause, the top finding and its
// score, pass; the run's alerts, incidents and the incidents they
// correlated into; then the top-1 accuracy, incidents per fault and the
// time from alerts to findings.
func (r *Report) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tEXPECTED\tTOP FINDING\tSCORE\tPASS\tALERTS\tINCIDENTS\tAFTER MERGE")
	for _, res := range r.Results {
		if res.Err != nil {
			fmt.Fprintf(tw, "%s\t%s\terror: %v\t\tno\t\t\t\n", res.Scenario, expected(res, 0), res.Err)
			continue
		}
		tops := res.Tops()
		n := max(1, len(res.Faults))
		for i := 0; i < n; i++ {
			pass := "no"
			if len(res.Faults) == 0 && res.Quiet || i < len(res.Matched) && res.Matched[i] >= 0 {
				pass = "yes"
			}
			name, counts := res.Scenario, fmt.Sprintf("%d\t%d\t%d", res.Alerts, res.realIncidents(), len(res.Groups))
			if i > 0 {
				name, counts = "  +", "\t\t"
			}
			top := tops[min(i, len(tops)-1)]
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, expected(res, i), findingText(top), scoreText(top), pass, counts)
		}
	}
	tw.Flush()
	passed, items, acc := r.Accuracy()
	fmt.Fprintf(w, "\ntop-1 accuracy: %d/%d = %.1f %%", passed, items, 100*acc)
	var faults, control, quiet int
	for _, res := range r.Results {
		if len(res.Faults) == 0 {
			control++
			if res.Quiet {
				quiet++
			}
		} else {
			faults += len(res.Faults)
		}
	}
	fmt.Fprintf(w, " (%d faults, %d control runs of which %d quiet; threshold %.2f)\n", faults, control, quiet, findings.Threshold)
	fmt.Fprintf(w, "incidents per fault: %s\n", r.incidentsPerFault())
	if p50, p95, n := r.latency(); n > 0 {
		fmt.Fprintf(w, "alerts to pack and findings: p50 %s, p95 %s over %d captures; setup %s\n", p50, p95, n, r.Setup.Round(time.Second))
	}
}

func (res Result) realIncidents() int {
	n := 0
	for _, inc := range res.Incidents {
		if !inc.Probe {
			n++
		}
	}
	return n
}

// incidentsPerFault: the correlated incidents per fault of each fault
// scenario, and their mean.
func (r *Report) incidentsPerFault() string {
	var parts []string
	var sum float64
	var n int
	for _, res := range r.Results {
		if len(res.Faults) == 0 || res.Err != nil {
			continue
		}
		x := float64(len(res.Groups)) / float64(len(res.Faults))
		sum += x
		n++
		parts = append(parts, fmt.Sprintf("%s %d/%d", res.Scenario, len(res.Groups), len(res.Faults)))
	}
	if n == 0 {
		return "no fault scenario"
	}
	return fmt.Sprintf("mean %.2f (%s)", sum/float64(n), strings.Join(parts, ", "))
}

func (r *Report) latency() (p50, p95 time.Duration, n int) {
	var ds []time.Duration
	for _, res := range r.Results {
		for _, inc := range res.Incidents {
			ds = append(ds, inc.Took)
		}
	}
	if len(ds) == 0 {
		return 0, 0, 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	q := func(p float64) time.Duration {
		return ds[min(len(ds)-1, int(math.Ceil(p*float64(len(ds))))-1)].Round(time.Millisecond)
	}
	return q(0.5), q(0.95), len(ds)
}

func expected(res Result, i int) string {
	if len(res.Faults) == 0 {
		return "none"
	}
	if i >= len(res.Faults) {
		return ""
	}
	return res.Faults[i].String()
}

func findingText(f findings.Finding) string {
	if f.Cause == findings.None || f.Workload == "" {
		return "none"
	}
	return evidence.Workload{Namespace: f.Namespace, Workload: f.Workload}.String() + " " + string(f.Cause)
}

func scoreText(f findings.Finding) string {
	if f.Cause == findings.None {
		return "-"
	}
	return fmt.Sprintf("%.2f", f.Score)
}

// WriteDetails prints every incident of every run with its findings.
func (r *Report) WriteDetails(w io.Writer) {
	for _, res := range r.Results {
		fmt.Fprintf(w, "== %s (end %s)\n", res.Scenario, res.End.Format(time.RFC3339))
		for _, inc := range res.Incidents {
			kind := "incident"
			if inc.Probe {
				kind = "probe"
			}
			var names []string
			for _, a := range inc.Alerts {
				names = append(names, a.Labels["alertname"]+"("+string(a.Status)+" "+a.StartsAt.Format("15:04")+")")
			}
			fmt.Fprintf(w, "  %s %s: %s; window %s → %s; %d metrics, %d logs, %d traces, %d bytes, %s\n", kind, inc.Key, strings.Join(names, " "),
				inc.Pack.Window.From.Format("15:04"), inc.Pack.Window.To.Format("15:04"), len(inc.Pack.Metrics), len(inc.Pack.Logs), len(inc.Pack.Traces),
				len(inc.Pack.JSON()), inc.Took.Round(time.Millisecond))
			for _, p := range inc.Pack.Partial {
				fmt.Fprintf(w, "    partial: %s: %s\n", p.Source, p.Error)
			}
			for _, f := range inc.Findings {
				fmt.Fprintf(w, "    %s\n", f)
			}
		}
		for i, g := range res.Groups {
			fmt.Fprintf(w, "  group %d: root %s, members %v, top %s\n", i, g.Root, g.Members, g.Top)
		}
	}
}
