// Package promrules reads Prometheus rule files: each alerting rule with its
// group's name and evaluation interval, as Prometheus' rule manager runs it.
package promrules

import (
	"fmt"
	"os"
	"time"

	"github.com/prometheus/common/model"
	"sigs.k8s.io/yaml"
)

// DefaultInterval is Prometheus' default evaluation_interval, used for
// groups that set none.
const DefaultInterval = time.Minute

// AlertRule is one alerting rule of a rule file.
type AlertRule struct {
	Group       string
	Interval    time.Duration // the group's evaluation interval
	Alert       string
	Expr        string
	For         time.Duration
	Labels      map[string]string
	Annotations map[string]string
}

type ruleFile struct {
	Groups []struct {
		Name     string `json:"name"`
		Interval string `json:"interval"`
		Rules    []struct {
			Alert       string            `json:"alert"`
			Expr        string            `json:"expr"`
			For         string            `json:"for"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

// ReadAlertRules reads the alerting rules of the files, in file and group
// order; recording rules are skipped.
func ReadAlertRules(files ...string) ([]AlertRule, error) {
	var out []AlertRule
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var rf ruleFile
		if err := yaml.Unmarshal(b, &rf); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, g := range rf.Groups {
			iv, err := duration(g.Interval, DefaultInterval)
			if err != nil {
				return nil, fmt.Errorf("%s: group %s: interval: %w", f, g.Name, err)
			}
			for _, r := range g.Rules {
				if r.Alert == "" {
					continue
				}
				hold, err := duration(r.For, 0)
				if err != nil {
					return nil, fmt.Errorf("%s: %s: for: %w", f, r.Alert, err)
				}
				out = append(out, AlertRule{Group: g.Name, Interval: iv, Alert: r.Alert, Expr: r.Expr, For: hold,
					Labels: r.Labels, Annotations: r.Annotations})
			}
		}
	}
	return out, nil
}

// duration parses a Prometheus duration (30s, 5m, 1h, 1d); empty is def.
func duration(s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := model.ParseDuration(s)
	return time.Duration(d), err
}
