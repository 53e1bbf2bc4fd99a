package explain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Limits the schema sets (the grammar bounds the output; num_predict caps
// it anyway).
const (
	MaxNotable     = 5
	MaxCauses      = 3
	MaxNextQueries = 3
	MaxCitation    = 6
)

// Schema is the JSON Schema sent as the request's format: Ollama turns it
// into a grammar, so the model can only write an Answer's fields, in this
// order (shows streams first). Series ids are an enum of the ids the
// prompt shows (ids), so a model cannot invent one; the guard still
// checks, for servers that ignore the grammar.
func Schema(ids []string) json.RawMessage {
	idItems := object{{"type", "string"}}
	if len(ids) > 0 {
		idItems = append(idItems, kv{"enum", ids})
	}
	str := object{{"type", "string"}}
	point := func(maxItems int) object {
		return object{
			{"type", "array"},
			{"maxItems", maxItems},
			{"items", object{
				{"type", "object"},
				{"properties", object{
					{"text", str},
					{"series", object{{"type", "array"}, {"items", idItems}, {"maxItems", MaxCitation}}},
				}},
				{"required", []string{"text", "series"}},
			}},
		}
	}
	s := object{
		{"type", "object"},
		{"properties", object{
			{"shows", str},
			{"notable", point(MaxNotable)},
			{"causes", point(MaxCauses)},
			{"nextQueries", object{
				{"type", "array"},
				{"maxItems", MaxNextQueries},
				{"items", object{
					{"type", "object"},
					{"properties", object{
						{"datasource", object{{"type", "string"}, {"enum", []string{DatasourcePrometheus, DatasourceLoki}}}},
						{"expr", str},
						{"why", str},
					}},
					{"required", []string{"datasource", "expr", "why"}},
				}},
			}},
		}},
		{"required", []string{"shows", "notable", "causes", "nextQueries"}},
	}
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // strings, numbers and objects of them marshal
	}
	return b
}

// object is a JSON object that keeps its keys' order (Ollama makes the
// model write the properties in the schema's order).
type object []kv

type kv struct {
	k string
	v any
}

// MarshalJSON writes the keys in order.
func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(e.k)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(e.v)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// ParseAnswer reads the model's content as an Answer and checks what the
// schema requires (a server that ignores the grammar, or an answer cut by
// num_predict, fails here); the guard's marks are not set yet. The error
// says what is wrong.
func ParseAnswer(content string) (Answer, error) {
	var raw struct {
		Shows       *string     `json:"shows"`
		Notable     []Point     `json:"notable"`
		Causes      []Point     `json:"causes"`
		NextQueries []NextQuery `json:"nextQueries"`
	}
	dec := json.NewDecoder(strings.NewReader(strings.TrimSpace(content)))
	if err := dec.Decode(&raw); err != nil {
		return Answer{}, fmt.Errorf("not valid JSON: %w", err)
	}
	if dec.More() {
		return Answer{}, errors.New("text after the JSON object")
	}
	var problems []string
	if raw.Shows == nil || strings.TrimSpace(*raw.Shows) == "" {
		problems = append(problems, "shows is empty")
	}
	for i, p := range append(append([]Point(nil), raw.Notable...), raw.Causes...) {
		if strings.TrimSpace(p.Text) == "" {
			problems = append(problems, fmt.Sprintf("point %d has no text", i+1))
		}
	}
	for i, q := range raw.NextQueries {
		if q.Datasource != DatasourcePrometheus && q.Datasource != DatasourceLoki {
			problems = append(problems, fmt.Sprintf("nextQueries[%d].datasource %q is not prometheus or loki", i, q.Datasource))
		}
	}
	if len(problems) > 0 {
		return Answer{}, errors.New(strings.Join(problems, "; "))
	}
	a := Answer{Shows: *raw.Shows, Notable: raw.Notable, Causes: raw.Causes, NextQueries: raw.NextQueries}
	if a.Notable == nil {
		a.Notable = []Point{}
	}
	if a.Causes == nil {
		a.Causes = []Point{}
	}
	if a.NextQueries == nil {
		a.NextQueries = []NextQuery{}
	}
	return a, nil
}
