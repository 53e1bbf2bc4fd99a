package analysis

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/meshwatch/meshwatch/pkg/evidence"
	"github.com/meshwatch/meshwatch/pkg/findings"
)

// Confidence and risk levels.
var levels = []string{"low", "medium", "high"}

// Limits the schema sets (the grammar bounds the output; num_predict caps
// it anyway).
const (
	MaxSteps    = 4
	MaxCitation = 8
)

// Schema is the JSON Schema sent as the request's format: Ollama turns it
// into a grammar, so the model can only write an Answer, its properties in
// the order above (object). The cause is an
// enum of the findings' vocabulary; evidence ids are an enum of the ids
// the prompt's pack holds (ids), so a model cannot invent one (the guard
// still checks, for models or servers that ignore the grammar).
func Schema(ids []string) json.RawMessage {
	causes := make([]string, len(findings.Causes))
	for i, c := range findings.Causes {
		causes[i] = string(c)
	}
	idItems := object{{"type", "string"}}
	if len(ids) > 0 {
		idItems = append(idItems, kv{"enum", ids})
	}
	cites := object{{"type", "array"}, {"items", idItems}, {"maxItems", MaxCitation}}
	str := object{{"type", "string"}}
	s := object{
		{"type", "object"},
		{"properties", object{
			{"summary", str},
			{"rootCause", object{
				{"type", "object"},
				{"properties", object{
					{"namespace", str},
					{"workload", str},
					{"cause", object{{"type", "string"}, {"enum", causes}}},
					{"explanation", str},
					{"evidence", cites},
				}},
				{"required", []string{"namespace", "workload", "cause", "explanation", "evidence"}},
			}},
			{"confidence", object{{"type", "string"}, {"enum", levels}}},
			{"remediation", object{
				{"type", "array"},
				{"maxItems", MaxSteps},
				{"items", object{
					{"type", "object"},
					{"properties", object{
						{"action", str},
						{"why", str},
						{"command", str},
						{"evidence", cites},
						{"risk", object{{"type", "string"}, {"enum", levels}}},
					}},
					{"required", []string{"action", "why", "evidence", "risk"}},
				}},
			}},
		}},
		{"required", []string{"summary", "rootCause", "confidence", "remediation"}},
	}
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // strings, numbers and objects of them marshal
	}
	return b
}

// object is a JSON object that keeps its keys' order. The order matters:
// Ollama (llama.cpp's schema-to-grammar) makes the model write the
// properties in the schema's order, so the summary streams first and the
// root cause comes before the steps that follow from it. A Go map would
// sort them alphabetically (confidence, remediation, rootCause, summary).
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
// num_predict, fails here). The error says what is wrong.
func ParseAnswer(content string) (Answer, error) {
	var a Answer
	dec := json.NewDecoder(strings.NewReader(strings.TrimSpace(content)))
	if err := dec.Decode(&a); err != nil {
		return a, fmt.Errorf("not valid JSON: %w", err)
	}
	if dec.More() {
		return a, errors.New("text after the JSON object")
	}
	var problems []string
	if strings.TrimSpace(a.Summary) == "" {
		problems = append(problems, "summary is empty")
	}
	if !a.RootCause.Cause.Valid() {
		problems = append(problems, fmt.Sprintf("rootCause.cause %q is not in the vocabulary", a.RootCause.Cause))
	}
	if !oneOf(a.Confidence, levels) {
		problems = append(problems, fmt.Sprintf("confidence %q is not low, medium or high", a.Confidence))
	}
	for i, s := range a.Remediation {
		if strings.TrimSpace(s.Action) == "" {
			problems = append(problems, fmt.Sprintf("remediation[%d].action is empty", i))
		}
		if !oneOf(s.Risk, levels) {
			problems = append(problems, fmt.Sprintf("remediation[%d].risk %q is not low, medium or high", i, s.Risk))
		}
	}
	if len(problems) > 0 {
		return a, errors.New(strings.Join(problems, "; "))
	}
	return a, nil
}

// Insufficient reports whether the answer says the evidence does not
// support a root cause (cause "none").
func (a Answer) Insufficient() bool { return a.RootCause.Cause == findings.None }

func oneOf(s string, set []string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

// packIDs are the evidence ids of a pack, in pack order.
func packIDs(p *evidence.Pack) []string { return p.IDs() }
