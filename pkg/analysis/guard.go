package analysis

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/meshwatch/meshwatch/pkg/evidence"
	"github.com/meshwatch/meshwatch/pkg/findings"
)

// Guard checks an answer against the pack it is about (the stored pack,
// before any shrinking: an id the prompt left out is still evidence). It
// is a pure function:
//
//   - a claim (the root cause, each step) citing no id, or an id the pack
//     does not hold, is unsupported;
//   - a root cause or step naming a workload the evidence does not hold is
//     flagged (steps: in the command's target, namespace, or a
//     "namespace/workload" in its text);
//   - a command is runnable only when Allowlist accepts it and every
//     workload it names is in the evidence.
//
// "Insufficient evidence" (cause none) needs no citation.
func Guard(a Answer, p *evidence.Pack, fs []findings.Finding) Verdicts {
	k := knownOf(p, fs)
	var v Verdicts
	v.RootCause = k.claim(a.RootCause.Evidence, a.RootCause.Cause == findings.None)
	if a.RootCause.Cause != findings.None && a.RootCause.Workload != "" {
		if !k.workload(a.RootCause.Namespace, a.RootCause.Workload) {
			v.RootCause.UnknownWorkloads = []string{a.RootCause.Namespace + "/" + a.RootCause.Workload}
			v.RootCause.Reasons = append(v.RootCause.Reasons, "names a workload the evidence does not hold")
		}
	}
	if !v.RootCause.Supported {
		v.Unsupported++
	}
	if len(v.RootCause.UnknownWorkloads) > 0 {
		v.Flagged++
	}
	for _, s := range a.Remediation {
		c := StepCheck{Claim: k.claim(s.Evidence, false)}
		names := k.namesIn(s.Action + " " + s.Why + " " + s.Command)
		if s.Command != "" {
			act, err := Allowlist(s.Command)
			switch {
			case err != nil:
				c.CommandReason = err.Error()
			default:
				names = append(names, act.workloads()...)
				c.Action = act
			}
		}
		for _, n := range dedupe(names) {
			ns, wl, _ := strings.Cut(n, "/")
			if !k.workload(ns, wl) {
				c.UnknownWorkloads = append(c.UnknownWorkloads, n)
			}
		}
		if len(c.UnknownWorkloads) > 0 {
			c.Reasons = append(c.Reasons, "names a workload the evidence does not hold")
			v.Flagged++
		}
		if c.Action != nil {
			if len(c.UnknownWorkloads) > 0 {
				c.CommandReason = "the command names a workload the evidence does not hold"
				c.Action = nil
			} else {
				c.Runnable = true
			}
		}
		if !c.Supported {
			v.Unsupported++
		}
		v.Steps = append(v.Steps, c)
	}
	return v
}

// known is what the evidence holds: ids, namespaces and workloads.
type known struct {
	ids        map[string]bool
	namespaces map[string]bool
	workloads  map[string]bool // "ns/wl", and "/wl" for a name seen without its namespace
}

func knownOf(p *evidence.Pack, fs []findings.Finding) known {
	k := known{ids: map[string]bool{}, namespaces: map[string]bool{}, workloads: map[string]bool{}}
	add := func(ns, wl string) {
		if wl == "" || wl == "unknown" {
			return
		}
		if ns != "" {
			k.namespaces[ns] = true
		}
		k.workloads[ns+"/"+wl] = true
		k.workloads["/"+wl] = true
	}
	if p != nil {
		for _, id := range p.IDs() {
			k.ids[id] = true
		}
		add(p.Subject.Namespace, p.Subject.Workload)
		for _, n := range p.Scope {
			add(n.Namespace, n.Workload.Workload)
		}
		for _, m := range p.Metrics {
			add(m.Namespace, m.Workload)
			if m.Peer != "" {
				if ns, wl, ok := strings.Cut(m.Peer, "/"); ok {
					add(ns, wl)
				} else {
					add(m.Namespace, m.Peer)
				}
			}
		}
		for _, l := range p.Logs {
			add(l.Namespace, l.Workload)
		}
		for _, t := range p.Traces {
			add("", t.Workload)
		}
	}
	for _, f := range fs {
		add(f.Namespace, f.Workload)
	}
	return k
}

// workload reports whether ns/wl is in the evidence (ns empty: any
// namespace). A Flagger canary's name counts when its primary
// (<name>-primary) is known.
func (k known) workload(ns, wl string) bool {
	if wl == "" {
		return ns == "" || k.namespaces[ns]
	}
	return k.workloads[ns+"/"+wl] || k.workloads[ns+"/"+wl+"-primary"] ||
		(ns != "" && k.workloads[ns+"/"+strings.TrimSuffix(wl, "-primary")] && strings.HasSuffix(wl, "-primary"))
}

func (k known) claim(ids []string, none bool) Claim {
	c := Claim{Cited: []string{}}
	for _, id := range ids {
		if k.ids[id] {
			c.Cited = append(c.Cited, id)
		} else {
			c.Unknown = append(c.Unknown, id)
		}
	}
	switch {
	case len(c.Unknown) > 0:
		c.Reasons = append(c.Reasons, fmt.Sprintf("cites evidence the pack does not hold: %s", strings.Join(c.Unknown, ", ")))
	case len(c.Cited) == 0 && !none:
		c.Reasons = append(c.Reasons, "cites no evidence")
	default:
		c.Supported = true
	}
	return c
}

// nsWorkload matches "namespace/workload" in prose; resource/name forms
// (deployment/x) are the command parser's.
var nsWorkload = regexp.MustCompile(`\b([a-z0-9]([-a-z0-9]*[a-z0-9])?)/([a-z0-9]([-.a-z0-9]*[a-z0-9])?)\b`)

// namesIn finds "namespace/workload" mentions whose namespace the evidence
// knows (so "gate/open" or "deployment/x" are not taken for workloads).
func (k known) namesIn(text string) []string {
	var out []string
	for _, m := range nsWorkload.FindAllStringSubmatch(text, -1) {
		if k.namespaces[m[1]] {
			out = append(out, m[1]+"/"+m[3])
		}
	}
	return out
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

// ---- the command allowlist ----

// workloads are the "ns/name" the action targets (ns may be empty).
func (a *Action) workloads() []string {
	switch a.Kind {
	case ActionRolloutRestart, ActionFlaggerGate:
		return []string{a.Namespace + "/" + a.Name}
	}
	var out []string
	switch {
	case a.Name != "":
		out = append(out, a.Namespace+"/"+a.Name)
	case a.Namespace != "":
		out = append(out, a.Namespace+"/")
	}
	return out
}

// Gates are the Flagger load tester paths an answer may propose.
var Gates = []string{"/gate/open", "/gate/close", "/rollback/open", "/rollback/close"}

var kubectlReads = map[string]bool{"get": true, "describe": true, "logs": true, "top": true, "events": true}

// Flags that change whom kubectl talks to or as whom, read secrets in
// bulk or never return; refused everywhere.
var refusedFlags = []string{"--kubeconfig", "--server", "-s", "--token", "--as", "--as-group", "--as-uid", "--user",
	"--context", "--cluster", "--certificate-authority", "--client-certificate", "--client-key",
	"--insecure-skip-tls-verify", "--raw", "-f", "--follow", "-w", "--watch", "--watch-only", "--password", "--username"}

var dnsName = regexp.MustCompile(`^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$`)

// Allowlist parses a command and accepts only:
//
//   - kubectl get, describe, logs, top or events (read-only), on anything
//     but secrets, without flags that change the server, the identity or
//     never return (--kubeconfig, --as, --token, -f/--follow, -w, --raw…);
//   - kubectl rollout restart deployment/<name> -n <namespace> (or
//     "deployment <name>", "deploy/<name>", --namespace): exactly one
//     Deployment, in a namespace given explicitly;
//   - a Flagger load tester gate: curl [-s] -X POST [-H 'Content-Type:
//     application/json'] -d '{"name":"<canary>","namespace":"<ns>"}'
//     http(s)://<host>/gate/open (or /gate/close, /rollback/open,
//     /rollback/close). Gates are load tester webhooks Flagger polls
//     (confirm-promotion, rollback); there is no kubectl form.
//
// Words are split as a shell would with plain single or double quotes;
// anything a shell would expand or chain ($, `, ;, |, &, <, >, \,
// newlines) is refused, so an accepted command means what it says.
func Allowlist(cmd string) (*Action, error) {
	words, err := splitWords(cmd)
	if err != nil {
		return nil, err
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("empty command")
	}
	switch words[0] {
	case "kubectl":
		return kubectlAction(words[1:])
	case "curl":
		return gateAction(words[1:])
	}
	return nil, fmt.Errorf("%q is not an allowed program (kubectl reads, kubectl rollout restart, curl to a Flagger gate)", words[0])
}

func kubectlAction(args []string) (*Action, error) {
	ns := ""
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		flag, _, _ := strings.Cut(a, "=")
		for _, r := range refusedFlags {
			if flag == r {
				return nil, fmt.Errorf("kubectl flag %s is not allowed", flag)
			}
		}
		switch {
		case flag == "-n" || flag == "--namespace":
			if v, ok := strings.CutPrefix(a, flag+"="); ok {
				ns = v
			} else if i+1 < len(args) {
				ns = args[i+1]
				i++
			}
		case strings.HasPrefix(a, "-"):
			// other flags (-o wide, -l app=x, --tail=50, -c istio-proxy) take
			// their value with = or in the next word; a read is safe either way.
		default:
			pos = append(pos, a)
		}
	}
	if ns != "" && !dnsName.MatchString(ns) {
		return nil, fmt.Errorf("namespace %q is not a Kubernetes name", ns)
	}
	if len(pos) == 0 {
		return nil, fmt.Errorf("kubectl without a verb")
	}
	verb := pos[0]
	if kubectlReads[verb] {
		for _, p := range pos[1:] {
			res, _, _ := strings.Cut(strings.ToLower(p), "/")
			for _, r := range strings.Split(res, ",") {
				if r == "secret" || r == "secrets" {
					return nil, fmt.Errorf("reading secrets is not allowed")
				}
			}
		}
		act := &Action{Kind: ActionKubectlRead, Namespace: ns, Args: args}
		for _, p := range pos[1:] {
			res, name, ok := strings.Cut(p, "/")
			switch strings.ToLower(res) {
			case "deployment", "deployments", "deploy", "statefulset", "sts", "daemonset", "ds", "canary", "canaries":
				if ok && act.Name == "" {
					act.Name = name
				}
			}
		}
		return act, nil
	}
	if verb == "rollout" && len(pos) >= 2 && pos[1] == "restart" {
		target := pos[2:]
		var name string
		switch {
		case len(target) == 1:
			res, n, ok := strings.Cut(target[0], "/")
			if !ok || (res != "deployment" && res != "deploy" && res != "deployments" && res != "deployment.apps") {
				return nil, fmt.Errorf("rollout restart is allowed for one Deployment (deployment/<name>), not %q", target[0])
			}
			name = n
		case len(target) == 2 && (target[0] == "deployment" || target[0] == "deploy" || target[0] == "deployments"):
			name = target[1]
		default:
			return nil, fmt.Errorf("rollout restart is allowed for exactly one Deployment")
		}
		if !dnsName.MatchString(name) {
			return nil, fmt.Errorf("deployment name %q is not a Kubernetes name", name)
		}
		if ns == "" {
			return nil, fmt.Errorf("rollout restart needs its namespace (-n <namespace>)")
		}
		return &Action{Kind: ActionRolloutRestart, Namespace: ns, Name: name}, nil
	}
	return nil, fmt.Errorf("kubectl %s is not allowed (reads: get, describe, logs, top, events; rollout restart of one Deployment)", verb)
}

func gateAction(args []string) (*Action, error) {
	var method, body, target string
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := func() (string, error) {
			if i+1 >= len(args) {
				return "", fmt.Errorf("curl %s needs a value", a)
			}
			i++
			return args[i], nil
		}
		var err error
		switch a {
		case "-s", "--silent", "-S", "--show-error", "-sS", "--fail", "-f":
		case "-X", "--request":
			method, err = next()
		case "-d", "--data", "--data-raw":
			body, err = next()
		case "-H", "--header":
			var h string
			h, err = next()
			if err == nil && !strings.EqualFold(strings.ReplaceAll(h, " ", ""), "content-type:application/json") {
				err = fmt.Errorf("curl header %q is not allowed", h)
			}
		default:
			if strings.HasPrefix(a, "-") {
				return nil, fmt.Errorf("curl option %s is not allowed", a)
			}
			if target != "" {
				return nil, fmt.Errorf("curl to more than one URL")
			}
			target = a
		}
		if err != nil {
			return nil, err
		}
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" {
		return nil, fmt.Errorf("curl is allowed only to a Flagger load tester's gate URL")
	}
	gate := strings.TrimRight(u.Path, "/")
	ok := false
	for _, g := range Gates {
		if gate == g {
			ok = true
		}
	}
	if !ok {
		return nil, fmt.Errorf("curl to %s is not a Flagger gate (%s)", u.Path, strings.Join(Gates, ", "))
	}
	if method != "" && method != "POST" {
		return nil, fmt.Errorf("a gate is opened or closed with POST, not %s", method)
	}
	var payload struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	}
	if err := json.Unmarshal([]byte(body), &payload); err != nil || !dnsName.MatchString(payload.Name) || !dnsName.MatchString(payload.Namespace) {
		return nil, fmt.Errorf(`a gate command needs the body {"name":"<canary>","namespace":"<namespace>"}`)
	}
	return &Action{Kind: ActionFlaggerGate, Namespace: payload.Namespace, Name: payload.Name, Gate: gate}, nil
}

// splitWords splits a command line into words with plain single and
// double quotes, refusing anything a shell would expand, chain or
// redirect.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	in := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
				continue
			}
			if quote == '"' && (r == '$' || r == '`' || r == '\\') {
				return nil, fmt.Errorf("the command uses shell expansion (%c)", r)
			}
			if r == '\n' || r == '\r' {
				return nil, fmt.Errorf("the command spans lines")
			}
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case strings.ContainsRune("$`;|&<>\\(){}*?!#~\n\r", r):
			return nil, fmt.Errorf("the command uses shell syntax (%q)", r)
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unbalanced quote in the command")
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}
