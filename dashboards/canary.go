package dashboards

import (
	"fmt"

	"github.com/meshwatch/meshwatch/pkg/signals"
)

// Canary follows one Flagger canary: its phase and weight over time, the
// canary against its primary on the analysis' own checks, and its events.
func Canary() *Dashboard {
	d := &Dashboard{
		Description: "MeshWatch canary drill-down: one Flagger canary's progression — phase, traffic weight, the " +
			"canary against the primary on Flagger's checks (success rate >= 99.5 %, P99 <= 500 ms), request volume, " +
			"and Flagger's events.",
		Refresh:  "30s",
		Revision: 2,
		Tags:     []string{"meshwatch", "flagger", "istio"},
		Time:     TimeRange{From: "now-3h", To: "now"},
		Title:    "MeshWatch / Canary",
		UID:      UIDCanary,
		Links:    dashLinks(UIDCanary),
		Templating: Templating{List: append(commonDSVars(),
			queryVar("namespace", "Namespace", `label_values(flagger_canary_status, namespace)`, "Namespaces with Flagger canaries.", false),
			queryVar("canary", "Canary", `label_values(flagger_canary_status{namespace="$namespace"}, name)`,
				"The canary's target Deployment (spec.targetRef.name); its primary is <name>-primary.", false))},
		Annotations: Annotations{List: []Annotation{alertsAnnotation()}},
	}
	b := newBuilder(d)

	sel := `namespace="$namespace", name="$canary"`
	bothWl := `destination_workload_namespace="$namespace", destination_workload=~"$canary|$canary-primary"`
	phase := valueMap(
		[3]string{"0", "Progressing", "blue"},
		[3]string{"1", "Idle / promoted", "green"},
		[3]string{"2", "Failed (rolled back)", "red"})

	b.row("Now")
	b.add(6, 4, stat("Phase",
		`Current state of the canary from flagger_canary_status: Progressing while an analysis runs, Failed after a
		rollback, Idle/promoted otherwise. Failed stays until the next revision is rolled out.`,
		"none", prom("A", `max(flagger_canary_status{`+sel+`})`, "phase")).mappings(phase).
		thresholds(thresholds("green", 2, "red")).option("graphMode", "none"))
	b.add(6, 4, stat("Canary weight",
		`Share of traffic Flagger routes to the canary right now (0 when idle or rolled back).`,
		"percent", prom("A", `max(flagger_canary_weight{namespace="$namespace", workload="$canary"})`, "weight")).
		thresholds(thresholds("blue")).minMax(f(0), f(100)))
	b.add(6, 4, stat("Promotions",
		`Analyses that completed and promoted the canary since Flagger started (flagger_canary_successes_total).`,
		"short", prom("A", `sum(flagger_canary_successes_total{`+sel+`}) or vector(0)`, "promoted")).option("colorMode", "none"))
	b.add(6, 4, stat("Rollbacks",
		`Analyses that failed and rolled the canary back since Flagger started (flagger_canary_failures_total).`,
		"short", prom("A", `sum(flagger_canary_failures_total{`+sel+`}) or vector(0)`, "rolled back")).
		thresholds(thresholds("green", 1, "red")))

	b.row("Progression")
	b.add(12, 5, stateTimeline("Phase over time",
		`The canary's state over the time range: each rollout shows as a Progressing stretch that ends in Idle/promoted
		(success) or Failed (rollback).`,
		prom("A", `max(flagger_canary_status{`+sel+`})`, "$canary")).mappings(phase))
	b.add(12, 5, timeseries("Traffic weight",
		`How Flagger splits the service's traffic between the primary and the canary (VirtualService weights): steps of
		the analysis while checks pass, back to the primary on a rollback.`,
		"percent", prom("A", `max by (workload) (flagger_canary_weight{namespace="$namespace", workload=~"$canary|$canary-primary"})`, "{{workload}}")).
		minMax(f(0), f(100)).custom("stacking", map[string]any{"group": "A", "mode": "normal"}).custom("fillOpacity", 40).
		custom("lineInterpolation", "stepAfter"))

	sr := fmt.Sprintf(`100 * sum by (destination_workload) (rate(istio_requests_total{%[1]s, %[2]s, response_code!~"5.."}[$__rate_interval]))
	  / sum by (destination_workload) (rate(istio_requests_total{%[1]s, %[2]s}[$__rate_interval]))`, mtlsRep, bothWl)
	b.add(8, 8, sloLine(timeseries("Success rate: canary vs primary",
		`Non-5xx share of requests served by the canary and by the primary, computed like Flagger's request-success-rate
		check (destination reporter). The dashed line is the 99.5 % gate.`,
		"percent", prom("A", sr, "{{destination_workload}}")),
		thresholds("red", SuccessSLO*100, "transparent")).minMax(nil, f(100)).decimals(2))
	p99 := fmt.Sprintf(`histogram_quantile(0.99, sum by (le, destination_workload) (rate(istio_request_duration_milliseconds_bucket{%s, %s}[$__rate_interval])))`, mtlsRep, bothWl)
	b.add(8, 8, sloLine(timeseries("P99: canary vs primary",
		`P99 request duration of the canary and of the primary (server side), like Flagger's request-duration check; the
		dashed line is the 500 ms gate.`,
		"ms", prom("A", p99, "{{destination_workload}}")),
		thresholds("transparent", LatencySLOms, "red")))
	b.add(8, 8, timeseries("Request volume: canary vs primary",
		`Requests per second each side serves. A 0.5 % gate needs at least about 200 canary requests per analysis window
		to mean anything (one error in 60 requests is already 1.7 %); no traffic at all is a failed check ("no values
		found").`,
		"reqps", prom("A", fmt.Sprintf(`sum by (destination_workload) (rate(istio_requests_total{%s, %s}[$__rate_interval]))`, mtlsRep, bothWl), "{{destination_workload}}")).
		minMax(f(0), nil))

	b.add(12, 8, sloLine(timeseries("Metric checks vs thresholds",
		`The last value of each check of the analysis (flagger_canary_metric_analysis): request-success-rate in percent
		(left, gate 99.5) and request-duration P99 in ms (right, gate 500). A value outside its range counts a failed
		check; at the threshold Flagger rolls back.`,
		"percent",
		prom("A", `max(flagger_canary_metric_analysis{`+sel+`, metric="request-success-rate"})`, "request-success-rate"),
		prom("B", `max(flagger_canary_metric_analysis{`+sel+`, metric="request-duration"})`, "request-duration"),
		prom("C", `max by (metric) (flagger_canary_metric_analysis{`+sel+`, metric!~"request-success-rate|request-duration"})`, "{{metric}}")),
		thresholds("red", SuccessSLO*100, "transparent")).
		overrides(override("byFrameRefID", "B",
			prop("unit", "ms"), prop("custom.axisPlacement", "right"),
			prop("thresholds", thresholds("transparent", LatencySLOms, "red")),
			prop("custom.thresholdsStyle", map[string]any{"mode": "dashed"}))))
	b.add(12, 8, timeseries("Canary 5xx by code",
		`5xx responses per second of the canary and of the primary by status code: which errors the new revision
		introduces.`,
		"reqps", prom("A", fmt.Sprintf(`sum by (destination_workload, response_code) (rate(istio_requests_total{%s, %s, response_code=~"5.."}[$__rate_interval])) or vector(0)`, mtlsRep, bothWl),
			"{{destination_workload}} {{response_code}}")).
		minMax(f(0), nil))

	b.row("Events and logs")
	b.add(12, 10, logsPanel("Flagger events",
		`Flagger's log of this canary: new revision detected, weight advances, halted advancements with the failing
		check, rollbacks and promotions.`,
		loki("A", `{app="flagger"} |= "$canary.$namespace"`, 500)))
	b.add(12, 10, logsPanel("Canary and primary logs",
		`Log lines of the canary's and the primary's pods, newest first (every error and warning, a sample of the rest):
		what failed in the new revision, side by side with the version that works. Filter on the level label.`,
		loki("A", `{namespace="$namespace", `+signals.PodOf("$canary|$canary-primary")+`, level=~".+"}`, 500)))

	return b.done()
}
