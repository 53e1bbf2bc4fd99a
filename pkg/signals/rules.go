package signals

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// RulesFilePath is where the rules file lives, from the repository root.
const RulesFilePath = "deploy/base/monitoring/rules/mesh-alerts.yaml"

// RuleInterval is the evaluation interval of every rule group.
const RuleInterval = 30 * time.Second

// RegenerateCommand writes the rules file from the catalog.
const RegenerateCommand = "go generate ./pkg/signals"

const rulesHeader = `# MeshWatch mesh alerts (Prometheus rule file; loaded by the monitoring
# kustomization's configMapGenerator). Every alert carries ` + "`namespace`" + ` and
# ` + "`workload`" + ` labels, so MeshWatch and Alertmanager group an incident by the
# workload it is about, plus ` + "`severity`" + `. Annotations: summary, description
# (what to look at), runbook (first steps), and the MeshWatch dashboard to open
# (dashboard_uid, dashboard_url with the variables filled in).
#
# Generated from the catalog of mesh signals (pkg/signals): edit the catalog,
# then run ` + "`" + RegenerateCommand + "`" + `; a test fails while this file differs.
#
# Thresholds match the dashboards and Flagger's gate: 0.5 % error budget
# (success rate 99.5 %), P99 latency SLO 500 ms. Error rate and latency need
# at least 20 requests to the workload in 15 minutes, so a quiet canary
# (10 % of 3 req/s) is judged too.
#
# Unit tests: tests/mesh-alerts.test.yaml (` + "`promtool test rules`" + `, run by
# ` + "`go test ./dashboards/`" + ` through pkg/devkit/harness). Integration: each simulator
# fault scenario fires its alert on real Prometheus (dashboards/alerts_test.go).
#
# Workload of a pod: pod names are <workload>-<pod-template-hash>-<suffix> for
# Deployments, <workload>-<ordinal> for StatefulSets and <workload>-<suffix>
# for DaemonSets, with hash (1 to 10 characters) and suffix (5) in Kubernetes'
# vowel-free alphabet; one label_replace derives ` + "`workload`" + ` from ` + "`pod`" + `
# (the shortest name such a suffix can follow; a bare pod keeps its name),
# with the pattern the dashboards select a workload's pods by.
`

// RulesFile is the Prometheus rules file of the catalog's alerting rules,
// as committed at RulesFilePath.
func RulesFile() []byte {
	var b strings.Builder
	b.WriteString(rulesHeader)
	b.WriteString("groups:\n")
	group := ""
	for _, s := range catalog {
		r := s.Rule
		if r == nil {
			continue
		}
		if r.Group != group {
			if group != "" {
				b.WriteString("\n")
			}
			group = r.Group
			fmt.Fprintf(&b, "  - name: %s\n    interval: %s\n    rules:\n", r.Group, dur(RuleInterval))
		} else {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "      - alert: %s\n", r.Alert)
		fmt.Fprintf(&b, "        expr: |\n%s\n", indent(s.Expr(), 10))
		if r.For > 0 {
			fmt.Fprintf(&b, "        for: %s\n", dur(r.For))
		}
		fmt.Fprintf(&b, "        labels:\n          severity: %s\n", r.Severity)
		b.WriteString("        annotations:\n")
		fmt.Fprintf(&b, "          summary: %s\n", quoted(r.Summary))
		fmt.Fprintf(&b, "          description: >-\n%s\n", folded(r.Description, 12))
		fmt.Fprintf(&b, "          runbook: >-\n%s\n", folded(r.Runbook, 12))
		fmt.Fprintf(&b, "          dashboard_uid: %s\n", scalar(r.Dashboard.UID))
		fmt.Fprintf(&b, "          dashboard_url: %s\n", scalar(r.Dashboard.URL))
	}
	return []byte(b.String())
}

// Annotations are a rule's annotations as Prometheus sees them.
func (r Rule) Annotations() map[string]string {
	return map[string]string{
		"summary":       r.Summary,
		"description":   r.Description,
		"runbook":       r.Runbook,
		"dashboard_uid": r.Dashboard.UID,
		"dashboard_url": r.Dashboard.URL,
	}
}

// foldWidth is the width of a folded annotation's lines, indentation not
// counted.
const foldWidth = 104

// folded writes s as the lines of a folded block scalar (>-): words joined
// by single spaces, so that YAML folds the lines back into s. A template
// action ({{ … }}) stays on one line, and so does a list number ("2)") with
// the word after it.
func folded(s string, indentBy int) string {
	if s == "" || strings.Contains(s, "\n") || strings.Contains(s, "  ") || strings.TrimSpace(s) != s {
		panic(fmt.Sprintf("signals: %q cannot be folded (empty, line breaks or runs of spaces)", s))
	}
	var words []string
	glue := false // the next word goes with the last one
	for _, w := range strings.Split(s, " ") {
		if glue {
			words[len(words)-1] += " " + w
		} else {
			words = append(words, w)
		}
		last := words[len(words)-1]
		glue = strings.Count(last, "{{") > strings.Count(last, "}}") || listNumber.MatchString(w)
	}
	var out []string
	line := ""
	for _, w := range words {
		if line != "" && len(line)+1+len(w) > foldWidth {
			out = append(out, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return indent(strings.Join(append(out, line), "\n"), indentBy)
}

var listNumber = regexp.MustCompile(`^[0-9]+\)$`)

// quoted writes s as a double-quoted YAML scalar.
func quoted(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

// scalar writes s plain where YAML reads it back as the same string, else
// double-quoted.
func scalar(s string) string {
	if s == "" || strings.ContainsAny(s[:1], "-?:,[]{}#&*!|>'\"%@` ") || strings.ContainsAny(s, "\n\t\\") ||
		strings.Contains(s, ": ") || strings.Contains(s, " #") || strings.HasSuffix(s, ":") || strings.HasSuffix(s, " ") {
		return quoted(s)
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return quoted(s)
	}
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "null", "~":
		return quoted(s)
	}
	return s
}
