package contractfake

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ollama/ollama/api"
)

// PanelEcho is a scripted "model" for the Ollama fake that answers the
// "Explain this panel" requests (pkg/explain) from the request itself: it
// reads the fenced panel JSON of the last user message (between open and
// close, as pkg/explain fences it) and writes the explanation schema's
// JSON: what the panel shows (its title and first query), one notable
// point citing the first series' id with its numbers, one cause citing
// nothing (so the modal shows how an uncited point is marked), and one
// next query: valid PromQL over the first series' metric name (a
// PromQL-safe name, or "up" when it has none). A request without the panel
// fence goes to otherwise (nil: an empty JSON object), so one fake serves
// the write-ups (FindingsEcho) and the explanations. It streams in small
// chunks with delay between them, so the modal shows the answer arriving.
//
// It is no model: it proves that the pipeline (prompt, stream, schema,
// guard, modal) carries an answer end to end, not that any answer is
// right.
func PanelEcho(open, close string, delay time.Duration, otherwise OllamaScript) OllamaScript {
	return func(req api.ChatRequest, n int) OllamaReply {
		var user string
		for _, m := range req.Messages {
			if m.Role == "user" {
				user = m.Content
			}
		}
		i := strings.Index(user, open)
		if i < 0 {
			if otherwise == nil {
				return OllamaReply{Content: "{}"}
			}
			return otherwise(req, n)
		}
		rest := user[i+len(open):]
		j := strings.Index(rest, close)
		if j < 0 {
			j = len(rest)
		}
		return OllamaReply{Content: panelAnswer([]byte(rest[:j])), ChunkBytes: 24, Delay: delay}
	}
}

func panelAnswer(raw []byte) string {
	var data struct {
		Panel struct {
			Title string `json:"title"`
		} `json:"panel"`
		Queries []struct {
			Datasource string `json:"datasource"`
			Expr       string `json:"expr"`
		} `json:"queries"`
		Series []struct {
			ID     string            `json:"id"`
			Name   string            `json:"name"`
			Labels map[string]string `json:"labels"`
			Min    *float64          `json:"min"`
			Max    *float64          `json:"max"`
			Last   *float64          `json:"last"`
			Trend  struct {
				Direction string `json:"direction"`
			} `json:"trend"`
		} `json:"series"`
	}
	_ = json.Unmarshal(raw, &data)
	type point struct {
		Text   string   `json:"text"`
		Series []string `json:"series"`
	}
	type query struct {
		Datasource string `json:"datasource"`
		Expr       string `json:"expr"`
		Why        string `json:"why"`
	}
	a := struct {
		Shows       string  `json:"shows"`
		Notable     []point `json:"notable"`
		Causes      []point `json:"causes"`
		NextQueries []query `json:"nextQueries"`
	}{Notable: []point{}, Causes: []point{}, NextQueries: []query{}}
	title := data.Panel.Title
	if title == "" {
		title = "This panel"
	}
	a.Shows = fmt.Sprintf("%s shows %d series", title, len(data.Series))
	if len(data.Queries) > 0 {
		a.Shows += fmt.Sprintf(" from the %s query %s", data.Queries[0].Datasource, data.Queries[0].Expr)
	}
	a.Shows += "."
	metric := "up"
	if len(data.Series) > 0 {
		s := data.Series[0]
		name := s.Name
		if name == "" {
			name = s.ID
		}
		f := func(p *float64) string {
			if p == nil {
				return "n/a"
			}
			return fmt.Sprintf("%g", *p)
		}
		a.Notable = append(a.Notable, point{Text: fmt.Sprintf("%s is %s: between %s and %s, last %s.", name, orFlat(s.Trend.Direction), f(s.Min), f(s.Max), f(s.Last)),
			Series: []string{s.ID}})
		if m := s.Labels["__name__"]; promName(m) {
			metric = m
		}
	}
	a.Causes = append(a.Causes, point{Text: "The data alone cannot tell the cause; compare with the workload's recent deploys.", Series: []string{}})
	a.NextQueries = append(a.NextQueries, query{Datasource: "prometheus", Expr: fmt.Sprintf("sum by (job) (%s)", metric),
		Why: "See which jobs the series come from."})
	b, _ := json.Marshal(a)
	return string(b)
}

func orFlat(d string) string {
	if d == "" {
		return "flat"
	}
	return d
}

// promName: a metric name PromQL takes as it is.
func promName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r == ':' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
