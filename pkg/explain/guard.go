package explain

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/meshwatch/meshwatch/pkg/analysis"
)

// Guard marks what the answer may show as it is: a point (notable or
// cause) citing no series id of the request is Uncited, and its citations
// of ids the request does not hold are removed (the modal links the ones
// left to their series); a next query is Valid only when it parses
// (ValidatePromQL, ValidateLogQL), else Error says why. Texts are cleaned
// of control characters. ids are the request's series ids.
func Guard(a Answer, ids []string) Answer {
	known := make(map[string]bool, len(ids))
	for _, id := range ids {
		known[id] = true
	}
	points := func(in []Point) []Point {
		out := make([]Point, len(in))
		for i, p := range in {
			cited := []string{}
			for _, id := range p.Series {
				if known[id] && !slices.Contains(cited, id) {
					cited = append(cited, id)
				}
			}
			out[i] = Point{Text: analysis.Clean(p.Text, MaxAnswerText), Series: cited, Uncited: len(cited) == 0}
		}
		return out
	}
	g := Answer{Shows: analysis.Clean(a.Shows, MaxAnswerText), Notable: points(a.Notable), Causes: points(a.Causes),
		NextQueries: make([]NextQuery, len(a.NextQueries))}
	for i, q := range a.NextQueries {
		q.Expr = strings.TrimSpace(q.Expr)
		q.Why = analysis.Clean(q.Why, MaxAnswerText)
		err := ValidateQuery(q.Datasource, q.Expr)
		q.Valid, q.Error = err == nil, ""
		if err != nil {
			q.Error = err.Error()
		}
		g.NextQueries[i] = q
	}
	return g
}

// MaxAnswerText caps a text of the answer (bytes).
const MaxAnswerText = 600

// ValidateQuery checks a suggested query for its datasource type.
func ValidateQuery(datasource, expr string) error {
	if strings.TrimSpace(expr) == "" {
		return errors.New("the query is empty")
	}
	switch datasource {
	case DatasourcePrometheus:
		return ValidatePromQL(expr)
	case DatasourceLoki:
		return ValidateLogQL(expr)
	}
	return fmt.Errorf("datasource %q is not prometheus or loki", datasource)
}

// ValidatePromQL parses expr with Prometheus's own PromQL parser (the
// version of the Prometheus the harness runs); the error is the parser's.
func ValidatePromQL(expr string) error {
	_, err := parser.ParseExpr(expr)
	return err
}
