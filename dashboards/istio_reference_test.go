package dashboards

import (
	"fmt"
	"strings"
)

// The queries of Istio's official dashboards the overview replaces, as the
// dashboards send them (reference §1.2, §1.3):
//   - Istio Mesh Dashboard: istio/istio manifests/addons/dashboards/
//     istio-mesh-dashboard.gen.json @0b2b04f — 4 stats, the HTTP/gRPC and
//     TCP workload tables (instant), component versions; panel interval 5s.
//   - Istio Service Dashboard: istio-service-dashboard.json @1272e6d — the
//     General row (stats with maxDataPoints 100, client/server durations),
//     Client Workloads and Service Workloads rows, each panel split into an
//     mTLS and a non-mTLS query, P50/P90/P95/P99 with the seconds fallback.
// Widths are the panels' gridPos.w, which sets their maxDataPoints in Grafana.

type refPanel struct {
	title    string
	w, maxDP int
	interval string
	instant  bool
	exprs    []string
}

func refDashboard(title string, panels []refPanel) *jDashboard {
	d := &jDashboard{Title: title, Time: TimeRange{From: "now-1h", To: "now"}}
	for k, p := range panels {
		jp := jPanel{ID: k + 1, Title: p.title, Type: "timeseries", GridPos: GridPos{W: p.w, H: 8}, MaxDataPoints: p.maxDP, Interval: p.interval}
		for n, e := range p.exprs {
			jp.Targets = append(jp.Targets, Target{Datasource: DSRef{Type: "prometheus", UID: "${datasource}"}, Expr: e, Instant: p.instant, RefID: string(rune('A' + n))})
		}
		d.Panels = append(d.Panels, jp)
	}
	return d
}

func istioMeshDashboard() *jDashboard {
	src := `reporter=~"source|waypoint"`
	lj := func(e string) string {
		return `label_join(` + e + `, "destination_workload_var", ".", "destination_workload", "destination_workload_namespace")`
	}
	q := func(p float64) string {
		return lj(fmt.Sprintf(`histogram_quantile(%g, sum by (le,destination_workload,destination_workload_namespace) (rate(istio_request_duration_milliseconds_bucket{%s}[$__rate_interval])))`, p, src))
	}
	return refDashboard("Istio Mesh Dashboard", []refPanel{
		{title: "Traffic Volume", w: 6, interval: "5s", exprs: []string{`round(sum (rate(istio_requests_total{` + src + `}[$__rate_interval])), 0.01)`}},
		{title: "Success Rate", w: 6, interval: "5s", exprs: []string{`sum (rate(istio_requests_total{` + src + `,response_code!~"5.."}[$__rate_interval])) / sum (rate(istio_requests_total{` + src + `}[$__rate_interval]))`}},
		{title: "4xxs", w: 6, interval: "5s", exprs: []string{`round(sum (rate(istio_requests_total{` + src + `,response_code=~"4.."}[$__rate_interval])), 0.01)or vector(0)`}},
		{title: "5xxs", w: 6, interval: "5s", exprs: []string{`round(sum (rate(istio_requests_total{` + src + `,response_code=~"5.."}[$__rate_interval])), 0.01)or vector(0)`}},
		{title: "HTTP/gRPC Workloads", w: 24, interval: "5s", instant: true, exprs: []string{
			lj(`sum by (destination_workload,destination_workload_namespace,destination_service) (rate(istio_requests_total{` + src + `}[$__rate_interval]))`),
			q(0.5), q(0.9), q(0.99),
			lj(`sum by (destination_workload,destination_workload_namespace) (rate(istio_requests_total{` + src + `,response_code!~"5.."}[$__rate_interval]))/sum by (destination_workload,destination_workload_namespace) (rate(istio_requests_total{` + src + `}[$__rate_interval]))`),
		}},
		{title: "TCP Workloads", w: 24, interval: "5s", instant: true, exprs: []string{
			lj(`sum by (destination_workload,destination_workload_namespace,destination_service) (rate(istio_tcp_received_bytes_total{` + src + `}[$__rate_interval]))`),
			lj(`sum by (destination_workload,destination_workload_namespace,destination_service) (rate(istio_tcp_sent_bytes_total{` + src + `}[$__rate_interval]))`),
		}},
		{title: "Istio Component Versions", w: 24, interval: "5s", exprs: []string{`sum by (component,tag) (istio_build)`}},
	})
}

func istioServiceDashboard() *jDashboard {
	dur := func(p, sel, by string) string {
		return fmt.Sprintf(`(histogram_quantile(%s, sum(irate(istio_request_duration_milliseconds_bucket{%s}[$__rate_interval])) by (%s)) / 1000) or histogram_quantile(%s, sum(irate(istio_request_duration_seconds_bucket{%s}[$__rate_interval])) by (%s))`, p, sel, by, p, sel, by)
	}
	size := func(metric, p, sel, by string) string {
		return fmt.Sprintf(`histogram_quantile(%s, sum(irate(%s{%s}[$__rate_interval])) by (%s))`, p, metric, sel, by)
	}
	var panels []refPanel
	for _, side := range []struct{ name, rep string }{{"Client", `reporter=~"$qrep"`}, {"Server", `reporter="destination"`}} {
		sel := side.rep + `,destination_service="$service"`
		panels = append(panels,
			refPanel{title: side.name + " Request Volume", w: 6, maxDP: 100, exprs: []string{`round(sum(irate(istio_requests_total{` + sel + `}[$__rate_interval])), 0.001)`}},
			refPanel{title: side.name + " Success Rate", w: 6, maxDP: 100, exprs: []string{`sum(irate(istio_requests_total{` + sel + `,response_code!~"5.*"}[$__rate_interval])) / (sum(irate(istio_requests_total{` + sel + `}[$__rate_interval])) or on () vector(1))`}},
			refPanel{title: side.name + " Request Duration", w: 6, exprs: []string{dur("0.50", sel, "le"), dur("0.90", sel, "le"), dur("0.99", sel, "le")}},
		)
	}
	panels = append(panels,
		refPanel{title: "TCP Received Bytes", w: 6, maxDP: 100, exprs: []string{`sum(irate(istio_tcp_received_bytes_total{reporter=~"$qrep", destination_service="$service"}[$__rate_interval]))`}},
		refPanel{title: "TCP Sent Bytes", w: 6, maxDP: 100, exprs: []string{`sum(irate(istio_tcp_sent_bytes_total{reporter=~"$qrep", destination_service="$service"}[$__rate_interval]))`}},
	)
	for _, row := range []struct{ name, rep, filter, by string }{
		{"Client Workloads", `reporter=~"$qrep"`, `source_workload=~"$srcwl", source_workload_namespace=~"$srcns"`, "source_workload, source_workload_namespace"},
		{"Service Workloads", `reporter="destination"`, `destination_workload=~"$dstwl", destination_workload_namespace=~"$dstns"`, "destination_workload, destination_workload_namespace"},
	} {
		split := func(f func(sel string) []string) []string {
			var out []string
			for _, mtls := range []string{`connection_security_policy="mutual_tls"`, `connection_security_policy!="mutual_tls"`} {
				out = append(out, f(row.rep+", "+mtls+`, destination_service="$service", `+row.filter)...)
			}
			return out
		}
		quant := func(g func(p, sel string) string) func(sel string) []string {
			return func(sel string) []string {
				var out []string
				for _, p := range []string{"0.50", "0.90", "0.95", "0.99"} {
					out = append(out, g(p, sel))
				}
				return out
			}
		}
		panels = append(panels,
			refPanel{title: row.name + " Requests By Code", w: 12, exprs: split(func(sel string) []string {
				return []string{`round(sum(irate(istio_requests_total{` + sel + `}[$__rate_interval])) by (` + row.by + `, response_code), 0.001)`}
			})},
			refPanel{title: row.name + " Success Rate", w: 12, exprs: split(func(sel string) []string {
				return []string{`sum(irate(istio_requests_total{` + sel + `,response_code!~"5.*"}[$__rate_interval])) by (` + row.by + `) / sum(irate(istio_requests_total{` + sel + `}[$__rate_interval])) by (` + row.by + `)`}
			})},
			refPanel{title: row.name + " Request Duration", w: 8, exprs: split(quant(func(p, sel string) string { return dur(p, sel, row.by+", le") }))},
			refPanel{title: row.name + " Request Size", w: 8, exprs: split(quant(func(p, sel string) string { return size("istio_request_bytes_bucket", p, sel, row.by+", le") }))},
			refPanel{title: row.name + " Response Size", w: 8, exprs: split(quant(func(p, sel string) string { return size("istio_response_bytes_bucket", p, sel, row.by+", le") }))},
			refPanel{title: row.name + " TCP Received", w: 12, exprs: split(func(sel string) []string {
				return []string{`round(sum(irate(istio_tcp_received_bytes_total{` + sel + `}[$__rate_interval])) by (` + row.by + `), 0.001)`}
			})},
			refPanel{title: row.name + " TCP Sent", w: 12, exprs: split(func(sel string) []string {
				return []string{`round(sum(irate(istio_tcp_sent_bytes_total{` + sel + `}[$__rate_interval])) by (` + row.by + `), 0.001)`}
			})},
		)
	}
	return refDashboard("Istio Service Dashboard", panels)
}

// grafanaMulti formats an "All" multi-value selection the way Grafana's
// Prometheus datasource does when the variable has no custom all value: the
// values, regex-escaped, as (a|b) — or the value itself when there is one.
func grafanaMulti(values []string) string {
	if len(values) == 1 {
		return values[0]
	}
	return "(" + strings.Join(values, "|") + ")"
}
