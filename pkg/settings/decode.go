package settings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
)

// maxUnknownKeys is how many unknown keys of one object are reported one by
// one; the last report counts the rest.
const maxUnknownKeys = 20

// decodeJSONData decodes jsonData over s one field at a time, so a field of
// the wrong type keeps its default and costs nothing else. Unknown keys and
// data after the object are reported; the only errors with Field "jsonData"
// are those about the document as a whole (it is not JSON, not an object, or
// has trailing data).
func decodeJSONData(data []byte, s *Settings) Errors {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil
	}
	d := &decoder{}
	dec := json.NewDecoder(bytes.NewReader(data))
	var top json.RawMessage
	if err := dec.Decode(&top); err != nil {
		d.add("jsonData", describeSyntaxError(err))
		return d.errs
	}
	if end := dec.InputOffset(); end < int64(len(data)) {
		d.add("jsonData", fmt.Sprintf("has data after the JSON object (from byte %d); remove it", end))
	}
	if kindOf(top) != "an object" && kindOf(top) != "null" {
		d.add("jsonData", "must be a JSON object, not "+kindOf(top))
		return d.errs
	}

	endpoint := func(e *Endpoint) []field {
		return []field{
			{"url", d.str(&e.URL)},
			{"tenantId", d.str(&e.TenantID)},
			{"tenantHeader", d.str(&e.TenantHeader)},
			{"timeoutSeconds", d.integer(&e.TimeoutSeconds)},
			{"datasourceUid", d.str(&e.DatasourceUID)},
		}
	}
	// Ollama is never a Grafana datasource: no datasourceUid.
	ollama := append(slices.DeleteFunc(endpoint(&s.Ollama.Endpoint), func(f field) bool { return f.key == "datasourceUid" }),
		field{"model", d.str(&s.Ollama.Model)},
		field{"numCtx", d.integer(&s.Ollama.NumCtx)},
		field{"numPredict", d.integer(&s.Ollama.NumPredict)},
		field{"allowExternal", d.boolean(&s.Ollama.AllowExternal)},
		field{"disabled", d.boolean(&s.Ollama.Disabled)},
	)
	d.object("", top, []field{
		{"prometheus", d.section(endpoint(&s.Prometheus))},
		{"loki", d.section(endpoint(&s.Loki))},
		{"tempo", d.section(endpoint(&s.Tempo))},
		{"alertmanager", d.section(endpoint(&s.Alertmanager))},
		{"ollama", d.section(ollama)},
		{"kubernetes", d.section([]field{
			{"mode", d.str(&s.Kubernetes.Mode)},
			{"url", d.str(&s.Kubernetes.URL)},
			{"caCert", d.str(&s.Kubernetes.CACert)},
			{"namespaces", d.stringList(&s.Kubernetes.Namespaces)},
		})},
		{"storage", d.section([]field{{"kind", d.str(&s.Storage.Kind)}, {"path", d.str(&s.Storage.Path)},
			{"retentionDays", d.integer(&s.Storage.RetentionDays)}})},
		{"incidents", d.section([]field{
			{"workloadLabels", d.stringList(&s.Incidents.WorkloadLabels)},
			{"reconcileSeconds", d.integer(&s.Incidents.ReconcileSeconds)},
		})},
		{"signOff", d.section([]field{{"role", d.str(&s.SignOff.Role)}})},
		{"evidenceWindowMinutes", d.integer(&s.EvidenceWindowMinutes)},
	})
	return d.errs
}

// field is one known key of a jsonData object and how to decode its value.
type field struct {
	key    string
	decode func(path string, raw json.RawMessage)
}

type decoder struct{ errs Errors }

func (d *decoder) add(field, message string) {
	d.errs = append(d.errs, FieldError{Field: field, Message: message})
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (d *decoder) section(fields []field) func(string, json.RawMessage) {
	return func(path string, raw json.RawMessage) { d.object(path, raw, fields) }
}

// object decodes the known keys of the object raw (at path; "" is the top)
// in the order of fields, then reports its unknown keys in sorted order.
func (d *decoder) object(path string, raw json.RawMessage, fields []field) {
	if kindOf(raw) == "null" {
		return
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		d.add(orTop(path), "must be a JSON object, not "+kindOf(raw))
		return
	}
	known := make(map[string]bool, len(fields))
	for _, f := range fields {
		known[f.key] = true
		if v, ok := m[f.key]; ok {
			f.decode(join(path, f.key), v)
		}
	}
	var unknown []string
	for k := range m {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for i, k := range unknown {
		msg := unknownKeyHint(path, k, fields)
		if i == maxUnknownKeys-1 && len(unknown) > maxUnknownKeys {
			d.add(join(path, fieldKey(k)), fmt.Sprintf("%s (and %d more unknown keys here)", msg, len(unknown)-maxUnknownKeys))
			return
		}
		d.add(join(path, fieldKey(k)), msg)
	}
}

func orTop(path string) string {
	if path == "" {
		return "jsonData"
	}
	return path
}

// unknownKeyHint says what an unknown key probably meant. It never repeats
// the key's value, which may be a secret pasted into the wrong place.
func unknownKeyHint(path, key string, fields []field) string {
	for _, sk := range SecureKeys {
		if strings.EqualFold(key, sk) {
			return "unknown key: secrets belong in secureJsonData (the secret fields of the config page), never in jsonData"
		}
	}
	for _, f := range fields {
		if strings.EqualFold(key, f.key) {
			return fmt.Sprintf("unknown key: keys are case-sensitive; did you mean %q?", f.key)
		}
	}
	if first, rest, dotted := strings.Cut(key, "."); dotted && path == "" {
		for _, f := range fields {
			if strings.EqualFold(first, f.key) {
				return "unknown key: dotted keys are not read; use the nested form " + nestedForm(f.key, rest)
			}
		}
	}
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.key
	}
	return "unknown key: the settings here are " + strings.Join(names, ", ")
}

// nestedForm renders {"a": {"b": …}} for the dotted key a.b.
func nestedForm(section, rest string) string {
	parts := strings.Split(rest, ".")
	if len(parts) > 4 {
		parts = parts[:4]
	}
	var b strings.Builder
	b.WriteString(`{"` + section + `": `)
	for _, p := range parts {
		b.WriteString(`{"` + escaped(p, 40) + `": `)
	}
	b.WriteString("…")
	b.WriteString(strings.Repeat("}", len(parts)+1))
	return b.String()
}

func (d *decoder) str(dst *string) func(string, json.RawMessage) {
	return func(path string, raw json.RawMessage) {
		if kindOf(raw) == "null" {
			return
		}
		var v string
		if json.Unmarshal(raw, &v) != nil {
			d.add(path, "must be a string, not "+kindOf(raw)+"; the default is used")
			return
		}
		*dst = v
	}
}

func (d *decoder) integer(dst *int) func(string, json.RawMessage) {
	return func(path string, raw json.RawMessage) {
		if kindOf(raw) == "null" {
			return
		}
		var v int
		if json.Unmarshal(raw, &v) != nil {
			if kindOf(raw) == "a number" {
				d.add(path, "must be a whole number within range; the default is used")
			} else {
				d.add(path, "must be a whole number, not "+kindOf(raw)+"; the default is used")
			}
			return
		}
		*dst = v
	}
}

func (d *decoder) boolean(dst *bool) func(string, json.RawMessage) {
	return func(path string, raw json.RawMessage) {
		if kindOf(raw) == "null" {
			return
		}
		var v bool
		if json.Unmarshal(raw, &v) != nil {
			d.add(path, "must be true or false, not "+kindOf(raw)+"; the default is used")
			return
		}
		*dst = v
	}
}

// stringList keeps the strings of a list and reports the other elements; a
// value that is not a list keeps the default.
func (d *decoder) stringList(dst *[]string) func(string, json.RawMessage) {
	return func(path string, raw json.RawMessage) {
		if kindOf(raw) == "null" {
			*dst = nil
			return
		}
		var elems []json.RawMessage
		if json.Unmarshal(raw, &elems) != nil {
			d.add(path, "must be a list of strings, not "+kindOf(raw)+"; the default is used")
			return
		}
		list := make([]string, 0, len(elems))
		bad := 0
		for i, e := range elems {
			var v string
			if json.Unmarshal(e, &v) != nil {
				if bad++; bad <= maxUnknownKeys {
					d.add(fmt.Sprintf("%s[%d]", path, i), "must be a string, not "+kindOf(e)+"; it is left out")
				}
				continue
			}
			list = append(list, v)
		}
		if bad > maxUnknownKeys {
			d.add(path, fmt.Sprintf("%d more elements are not strings and are left out", bad-maxUnknownKeys))
		}
		*dst = list
	}
}

// kindOf names the JSON type of a valid JSON value.
func kindOf(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// describeSyntaxError describes why jsonData is not JSON by position only:
// encoding/json's own messages quote the offending character, which may be
// part of a secret pasted into a URL.
func describeSyntaxError(err error) string {
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("is not valid JSON (syntax error at byte %d)", syntax.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "is not valid JSON: it ends before the value is complete"
	}
	return "is not valid JSON"
}
