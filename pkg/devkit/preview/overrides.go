package preview

import (
	"encoding/json"
	"fmt"
	"strings"
)

// override is one --set key=value: a dotted jsonData path and its value.
type override struct {
	path  []string
	value any
}

// parseOverride reads "a.b.c=value". The value is taken as JSON when it is a
// JSON literal (10, true, null, ["a"], {"k":1}, "quoted"), else as a string,
// so --set prometheus.url=http://127.0.0.1:9090 and
// --set evidenceWindowMinutes=10 both do what they say.
func parseOverride(s string) (override, error) {
	key, raw, ok := strings.Cut(s, "=")
	key = strings.TrimSpace(key)
	if !ok || key == "" {
		return override{}, fmt.Errorf("--set %q: want key=value (dotted keys like prometheus.url)", s)
	}
	path := strings.Split(key, ".")
	for _, p := range path {
		if p == "" {
			return override{}, fmt.Errorf("--set %q: empty segment in key %q", s, key)
		}
	}
	var v any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		v = raw
	}
	return override{path: path, value: v}, nil
}

// apply sets the value in jsonData, creating objects along the path and
// replacing any non-object found on the way.
func (o override) apply(jsonData map[string]any) {
	m := jsonData
	for _, p := range o.path[:len(o.path)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[o.path[len(o.path)-1]] = o.value
}

// String is the override as given, for the startup log (jsonData only; never
// a secret).
func (o override) String() string {
	b, _ := json.Marshal(o.value)
	return strings.Join(o.path, ".") + "=" + string(b)
}
