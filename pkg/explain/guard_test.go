package explain

import (
	"encoding/json"
	"strings"
	"testing"
)

// A point citing no series of the request is marked uncited, and ids the
// request does not hold are left out of its citations; a next query is a
// link only when it parses, else the parser says why.
func TestGuardMarksUncitedPointsAndInvalidQueries(t *testing.T) {
	a := Answer{
		Shows: "Request rate by pod.",
		Notable: []Point{
			{Text: "pod-0 jumped at 07:40", Series: []string{"s1", "s9", "s1"}},
			{Text: "something else", Series: []string{"s9"}},
		},
		Causes: []Point{{Text: "a deploy", Series: nil}},
		NextQueries: []NextQuery{
			{Datasource: DatasourcePrometheus, Expr: ` sum by (pod) (rate(http_requests_total[5m])) `, Why: "by pod"},
			{Datasource: DatasourcePrometheus, Expr: `sum(rate(http_requests_total[5m]) by`, Why: "broken"},
			{Datasource: DatasourceLoki, Expr: `{namespace="shop"} |= "error"`, Why: "logs"},
			{Datasource: "elasticsearch", Expr: `x`, Why: "?"},
		},
	}
	g := Guard(a, []string{"s1", "s2"})
	if n := g.Notable[0]; n.Uncited || len(n.Series) != 1 || n.Series[0] != "s1" {
		t.Errorf("cited point: %+v", n)
	}
	if n := g.Notable[1]; !n.Uncited || len(n.Series) != 0 {
		t.Errorf("a point citing only an unknown id: %+v", n)
	}
	if c := g.Causes[0]; !c.Uncited || c.Series == nil {
		t.Errorf("a point citing nothing: %+v", c)
	}
	q := g.NextQueries
	if !q[0].Valid || q[0].Error != "" || q[0].Expr != `sum by (pod) (rate(http_requests_total[5m]))` {
		t.Errorf("valid PromQL: %+v", q[0])
	}
	if q[1].Valid || !strings.Contains(q[1].Error, "parse error") {
		t.Errorf("invalid PromQL: %+v", q[1])
	}
	if !q[2].Valid {
		t.Errorf("valid LogQL: %+v", q[2])
	}
	if q[3].Valid || !strings.Contains(q[3].Error, "not prometheus or loki") {
		t.Errorf("another datasource: %+v", q[3])
	}
}

func TestValidatePromQL(t *testing.T) {
	for _, ok := range []string{`up`, `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))`,
		`rate(x{a=~"b.*"}[1m]) > 0.5`, `max_over_time(container_memory_working_set_bytes[1h:5m])`} {
		if err := ValidatePromQL(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{`sum(rate(x[5m])`, `rate(x)`, `x{a="b"`, `sum by (pod) rate(x[5m])`, `foo(x)`} {
		if err := ValidatePromQL(bad); err == nil {
			t.Errorf("%s: parsed", bad)
		}
	}
}

// The structural LogQL check takes the queries people write and refuses
// the mistakes that make Explore fail, saying where.
func TestValidateLogQL(t *testing.T) {
	for _, ok := range []string{
		`{app="api"}`,
		`{app="api"} |= "error"`,
		`{app="a", env!="dev"} |~ "err(or)?" | logfmt | line_format "{{.msg}}"`,
		`{app="a"} |= "x" or "y" != "z"`,
		`{namespace="shop"} | json | status >= 500 | level != "debug"`,
		`sum by (pod) (count_over_time({namespace="shop"} |= "timeout" [5m]))`,
		`rate({app="x"} | json | status >= 500 [1m])`,
		`quantile_over_time(0.99, {app="a"} | logfmt | unwrap latency [5m]) by (pod)`,
		`topk(3, sum by (app) (rate({cluster=~"prod.+"}[5m]))) / 2`,
		"{app=`a`} |~ `\\d+ms`",
		`sum(rate({app="a"} | pattern "<ip> - <_>" [5m] offset 1h))`,
	} {
		if err := ValidateLogQL(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, c := range []struct{ expr, want string }{
		{`{app=~".*"}`, "empty value"},
		{`{}`, "label matchers"},
		{`{app="a"`, "not closed"},
		{`{app="a"}[5m]`, "range function"},
		{`{app="a"} |= error`, "needs a string"},
		{`foo({app="a"}[5m])`, "not a LogQL function"},
		{`{app="a"} |~ "(("`, "does not compile"},
		{`sum(rate({app="a"}[5x]))`, "not a duration"},
		{`sum({app="a"})`, "neither a log query"},
		{`{app="a"} | regexp`, "needs a string"},
		{`{app="a} |= "x"`, "not closed"},
		{`{app "a"}`, "needs =, !=, =~ or !~"},
		{`{app="a"} ; drop table`, "unexpected character"},
		{`http_requests_total`, "unexpected \"http_requests_total\""},
	} {
		err := ValidateLogQL(c.expr)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.expr, err, c.want)
		}
	}
}

// The model's text is an Answer only when it is one JSON object with what
// the schema requires.
func TestParseAnswer(t *testing.T) {
	good := `{"shows":"Rate.","notable":[{"text":"up","series":["s1"]}],"causes":[],"nextQueries":[{"datasource":"loki","expr":"{a=\"b\"}","why":"w"}]}`
	a, err := ParseAnswer("  " + good + "\n")
	if err != nil || a.Shows != "Rate." || a.Notable[0].Series[0] != "s1" || a.NextQueries[0].Datasource != "loki" || a.Causes == nil {
		t.Fatalf("%+v %v", a, err)
	}
	for _, c := range []struct{ text, want string }{
		{`{"shows":"x","notable":[],"causes":[],"nextQueries":[]} more`, "text after"},
		{`{"shows":"","notable":[],"causes":[],"nextQueries":[]}`, "shows is empty"},
		{`{"notable":[],"causes":[],"nextQueries":[]}`, "shows is empty"},
		{`{"shows":"x","notable":[{"text":" ","series":[]}],"causes":[],"nextQueries":[]}`, "no text"},
		{`{"shows":"x","nextQueries":[{"datasource":"graphite","expr":"a","why":"b"}]}`, "not prometheus or loki"},
		{`{"shows":"x", "notable": [`, "not valid JSON"},
	} {
		if _, err := ParseAnswer(c.text); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.text, err, c.want)
		}
	}
}

// The schema sent as format lists the answer's properties in order (what
// the panel shows streams first) and limits citations to the prompt's
// series ids.
func TestSchema(t *testing.T) {
	raw := Schema([]string{"s1", "s2"})
	var s struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Required   []string                   `json:"required"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	if strings.Index(string(raw), `"shows"`) > strings.Index(string(raw), `"notable"`) {
		t.Error("shows is not the first property")
	}
	if !strings.Contains(string(s.Properties["notable"]), `"enum":["s1","s2"]`) ||
		!strings.Contains(string(s.Properties["nextQueries"]), `"enum":["prometheus","loki"]`) {
		t.Errorf("schema %s", raw)
	}
	if len(s.Required) != 4 {
		t.Errorf("required %v", s.Required)
	}
}
