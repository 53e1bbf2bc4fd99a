package promrules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReadAlertRules(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	err := os.WriteFile(path, []byte(`groups:
  - name: fast
    interval: 30s
    rules:
      - record: job:up:sum
        expr: sum(up)
      - alert: Down
        expr: up == 0
        for: 1d
        labels: {severity: critical}
        annotations: {summary: "{{ $labels.job }} is down"}
  - name: default
    rules:
      - alert: Always
        expr: vector(1)
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := ReadAlertRules(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 2 {
		t.Fatalf("%d rules: %+v", len(rules), rules)
	}
	d := rules[0]
	if d.Group != "fast" || d.Interval != 30*time.Second || d.Alert != "Down" || d.For != 24*time.Hour ||
		d.Labels["severity"] != "critical" || !strings.Contains(d.Annotations["summary"], "$labels.job") {
		t.Errorf("Down read as %+v", d)
	}
	if a := rules[1]; a.Interval != DefaultInterval || a.For != 0 {
		t.Errorf("Always read as %+v", a)
	}
}

func TestReadAlertRulesErrors(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"yaml": "groups: [",
		"for":  "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        for: soon\n",
	} {
		p := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadAlertRules(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v (want an error naming the file)", name, err)
		}
	}
	if _, err := ReadAlertRules(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("a missing file must be an error")
	}
}
