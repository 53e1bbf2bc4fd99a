package simulator

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/yaml"
)

//go:embed scenarios/*.yaml
var scenarioFiles embed.FS

// EffectKind names what an Effect does to the mesh.
type EffectKind string

// The effect kinds the engine knows.
const (
	// ErrorRate: the target answers Magnitude of its requests with Code (default 500).
	ErrorRate EffectKind = "error-rate"
	// Latency: Magnitude milliseconds added to the target's median self time.
	Latency EffectKind = "latency"
	// MemoryLeak: the target container's working set grows linearly so that it
	// reaches Magnitude × its memory limit at the end of the run; at the limit
	// the kernel OOM-kills it (reason OOMKilled) and it starts over.
	MemoryLeak EffectKind = "memory-leak"
	// Restart: the target container exits after Every of uptime with Reason
	// (Error or OOMKilled); the kubelet restarts it with CrashLoopBackOff.
	Restart EffectKind = "restart"
	// PlaintextSource: Source (a workload without sidecar) calls the target at
	// Magnitude req/s in plaintext, which a permissive port lets through.
	PlaintextSource EffectKind = "plaintext-source"
	// XDSRejects: the target's sidecar NACKs pushes of a bad config at
	// Magnitude rejects per minute.
	XDSRejects EffectKind = "xds-rejects"
	// CanaryProgression: Flagger starts analysing a new revision (Version) of
	// the target canary; the analysis reacts to the simulated metrics.
	CanaryProgression EffectKind = "canary-progression"
	// TimeoutCascade: the target slows down by Magnitude ms (median) and sheds
	// ErrorRate of its requests with fast 503s; callers' timeouts and retries
	// turn that into 504 UT / 503 URX up the call chain.
	TimeoutCascade EffectKind = "timeout-cascade"
	// TrafficBurst: Magnitude extra requests per second enter through the
	// ingress gateway on the routes that reach the target (by their
	// weights), and the target slows under them by LatencyMs (median,
	// queueing). Where a caller's connection pool to it is limited
	// (EdgePolicy.MaxConcurrent), the calls beyond the pool get a fast 503
	// UO from the caller's own proxy: the circuit breaker opens.
	TrafficBurst EffectKind = "traffic-burst"
	// Overload: the target fails a share of the requests it gets with fast
	// 503s (Detail: why, e.g. its database pool is exhausted): Magnitude
	// times its load over the first attempts its callers send (the retries
	// that come back make it fail more: a retry storm), at most 85 %; and
	// it slows by LatencyMs (median).
	Overload EffectKind = "overload"
)

var effectKinds = []EffectKind{ErrorRate, Latency, MemoryLeak, Restart, PlaintextSource, XDSRejects, CanaryProgression, TimeoutCascade, TrafficBurst, Overload}

// Duration is a time.Duration that reads and writes as "90m", "3h30m".
type Duration time.Duration

// UnmarshalJSON accepts a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"90m\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Effect is one fault (or event) a scenario injects.
type Effect struct {
	Kind      EffectKind `json:"kind"`
	Target    string     `json:"target"`              // workload name
	Container string     `json:"container,omitempty"` // app container (default) or istio-proxy
	Version   string     `json:"version,omitempty"`   // restrict to pods of this version / canary revision
	// At is the offset from the start of the run; it scales with --duration
	// (At × run/scenario duration). Delay is added after scaling, unscaled,
	// for effects that must follow another one closely.
	At    Duration `json:"at"`
	Delay Duration `json:"delay,omitempty"`
	// Until ends the effect (offset, scaled like At); zero means until the end.
	Until     Duration `json:"until,omitempty"`
	Ramp      Duration `json:"ramp,omitempty"` // linear ramp-in of Magnitude
	Magnitude float64  `json:"magnitude,omitempty"`
	// LatencyMs is the median extra latency of a traffic-burst's or an
	// overload's target.
	LatencyMs float64  `json:"latencyMs,omitempty"`
	Code      int      `json:"code,omitempty"`
	ErrorRate float64  `json:"errorRate,omitempty"`
	Reason    string   `json:"reason,omitempty"`
	Every     Duration `json:"every,omitempty"`
	Source    string   `json:"source,omitempty"`
	Detail    string   `json:"detail,omitempty"` // free text used in logs and events (e.g. the bad config)
	// Gates (canary-progression only) are Flagger webhooks of the Canary
	// that ask the load tester's gates: confirm-rollout and
	// confirm-promotion (/gate/check, closed until opened), rollback
	// (/rollback/check). Open them with OpenGate/OpenRollback or the live
	// simulator's /gate/open and /rollback/open.
	Gates []string `json:"gates,omitempty"`
}

// Truth is a scenario's ground truth: what an analysis should conclude.
// Its own fields describe the (first) fault; a scenario with several
// faults at once lists the others in Additional. Use Faults for all of them.
type Truth struct {
	Workload   string   `json:"workload,omitempty"`
	Namespace  string   `json:"namespace,omitempty"`
	Container  string   `json:"container,omitempty"`
	Version    string   `json:"version,omitempty"`
	CauseClass string   `json:"causeClass"`
	Affected   []string `json:"affected,omitempty"`
	Detail     string   `json:"detail,omitempty"`
	// Onset is the offset of the fault's start; empty means the first
	// effect's start. Scaled like Effect.At.
	Onset      Duration `json:"onset,omitempty"`
	OnsetDelay Duration `json:"onsetDelay,omitempty"`
	// Additional are the other faults in force during the run (unrelated
	// to the first: each is its own incident). Optional.
	Additional []Fault `json:"additional,omitempty"`
}

// Fault is one fault of a scenario's ground truth: the root-cause
// workload, its cause class (see CauseClasses), the workloads that feel it
// (Affected, the root first: the one incident the fault should make, with
// the alerts that may fire on them) and its onset.
type Fault struct {
	Workload   string   `json:"workload"`
	Namespace  string   `json:"namespace"`
	Container  string   `json:"container,omitempty"`
	Version    string   `json:"version,omitempty"`
	CauseClass string   `json:"causeClass"`
	Affected   []string `json:"affected,omitempty"`
	Detail     string   `json:"detail,omitempty"`
	// Onset is the offset of the fault's start; empty means the start of
	// the first effect on Workload. Scaled like Effect.At.
	Onset      Duration `json:"onset,omitempty"`
	OnsetDelay Duration `json:"onsetDelay,omitempty"`
}

// Faults returns every fault of the truth: the first (the Truth's own
// fields) and the Additional ones; none for a control run (causeClass "none").
func (t Truth) Faults() []Fault {
	var out []Fault
	if t.CauseClass != "none" && t.CauseClass != "" {
		out = append(out, Fault{Workload: t.Workload, Namespace: t.Namespace, Container: t.Container, Version: t.Version,
			CauseClass: t.CauseClass, Affected: slices.Clone(t.Affected), Detail: t.Detail, Onset: t.Onset, OnsetDelay: t.OnsetDelay})
	}
	for _, f := range t.Additional {
		f.Affected = slices.Clone(f.Affected)
		out = append(out, f)
	}
	return out
}

// CauseClasses is the fixed vocabulary of cause classes (issue 19) that
// the findings use and new scenarios' truth must use. ("none" is a
// control run.)
var CauseClasses = []string{"sidecar-memory-leak", "app-memory-oom", "crashloop", "error-regression", "latency-regression",
	"upstream-dependency", "timeout-cascade", "circuit-open", "retry-storm", "plaintext-under-strict", "control-plane-rejects", "none"}

// legacyCauseClasses are the cause classes of scenarios written before the
// vocabulary, kept as they are: app-oomkill, canary-5xx-regression,
// upstream-latency, plaintext-under-strict, istiod-config-rejects.
var legacyCauseClasses = []string{"oom-killed", "canary-regression", "latency", "plaintext-traffic", "xds-config-reject"}

// Scenario is a declarative fault scenario: the data a run is built from.
type Scenario struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Duration    Duration `json:"duration"`
	// Topology is the mesh it runs on: absent for the default shop
	// (DefaultMesh), a built-in topology's name (Topologies), or a mesh
	// declared in place (Topology).
	Topology *TopologyRef `json:"topology,omitempty"`
	Truth    Truth        `json:"truth"`
	Effects  []Effect     `json:"effects"`
}

// ParseScenario reads one scenario from YAML (or JSON) and validates it
// against its mesh.
func ParseScenario(data []byte) (*Scenario, error) {
	var s Scenario
	if err := yaml.UnmarshalStrict(data, &s); err != nil {
		return nil, err
	}
	m, err := s.Mesh()
	if err != nil {
		return nil, err
	}
	if err := s.Validate(m); err != nil {
		return nil, err
	}
	if s.Truth.Namespace == "" && s.Truth.Workload != "" {
		s.Truth.Namespace = m.Workload(s.Truth.Workload).Namespace
	}
	for i, f := range s.Truth.Additional {
		if f.Namespace == "" {
			s.Truth.Additional[i].Namespace = m.Workload(f.Workload).Namespace
		}
	}
	return &s, nil
}

// Validate checks a scenario against a mesh.
func (s *Scenario) Validate(m *Mesh) error {
	var errs []error
	if s.Name == "" {
		errs = append(errs, errors.New("name is required"))
	}
	if s.Duration <= 0 {
		errs = append(errs, errors.New("duration must be positive"))
	}
	if s.Truth.CauseClass == "" {
		errs = append(errs, errors.New("truth.causeClass is required (\"none\" for a control run)"))
	}
	for i, f := range s.Truth.Faults() {
		p := "truth"
		if i > 0 {
			p = fmt.Sprintf("truth.additional[%d]", i-1)
		}
		if !slices.Contains(CauseClasses, f.CauseClass) && !(i == 0 && slices.Contains(legacyCauseClasses, f.CauseClass)) {
			errs = append(errs, fmt.Errorf("%s: causeClass %q is not one of %v", p, f.CauseClass, CauseClasses))
		}
		if f.CauseClass == "none" {
			errs = append(errs, fmt.Errorf("%s: an additional fault cannot be \"none\"", p))
		}
		w := m.Workload(f.Workload)
		switch {
		case f.Workload == "":
			errs = append(errs, fmt.Errorf("%s: a fault needs its root-cause workload", p))
		case w == nil:
			errs = append(errs, fmt.Errorf("%s: workload %q is not in the mesh", p, f.Workload))
		case f.Namespace != "" && f.Namespace != w.Namespace:
			errs = append(errs, fmt.Errorf("%s: namespace %q, but %s runs in %q", p, f.Namespace, f.Workload, w.Namespace))
		}
		for _, a := range f.Affected {
			if m.Workload(a) == nil {
				errs = append(errs, fmt.Errorf("%s: affected workload %q is not in the mesh", p, a))
			}
		}
	}
	if len(s.Truth.Additional) > 0 && s.Truth.CauseClass == "none" {
		errs = append(errs, errors.New("truth: a control run (causeClass none) has no additional faults"))
	}
	for i, e := range s.Effects {
		p := fmt.Sprintf("effects[%d] (%s)", i, e.Kind)
		if !slices.Contains(effectKinds, e.Kind) {
			errs = append(errs, fmt.Errorf("%s: unknown kind; valid: %v", p, effectKinds))
			continue
		}
		w := m.Workload(e.Target)
		if w == nil {
			errs = append(errs, fmt.Errorf("%s: unknown target workload %q", p, e.Target))
			continue
		}
		if e.At < 0 || e.At > s.Duration {
			errs = append(errs, fmt.Errorf("%s: at %s is outside the scenario's %s", p, time.Duration(e.At), time.Duration(s.Duration)))
		}
		if e.Code != 0 && (e.Code < 100 || e.Code > 599) {
			errs = append(errs, fmt.Errorf("%s: code %d is not an HTTP status (100-599)", p, e.Code))
		}
		if e.Container != "" && e.Container != ProxyContainer && e.Container != w.Container {
			errs = append(errs, fmt.Errorf("%s: container %q is not %q or %q", p, e.Container, w.Container, ProxyContainer))
		}
		switch e.Kind {
		case ErrorRate, TimeoutCascade:
			if e.Kind == ErrorRate && (e.Magnitude <= 0 || e.Magnitude > 1) {
				errs = append(errs, fmt.Errorf("%s: magnitude is a fraction of requests in (0,1]", p))
			}
		case MemoryLeak:
			if e.Magnitude <= 0 {
				errs = append(errs, fmt.Errorf("%s: magnitude is the fraction of the memory limit reached at the end", p))
			}
		case Restart:
			if e.Reason != "Error" && e.Reason != "OOMKilled" {
				errs = append(errs, fmt.Errorf("%s: reason must be Error or OOMKilled", p))
			}
		case PlaintextSource:
			if src := m.Workload(e.Source); src == nil || src.Sidecar {
				errs = append(errs, fmt.Errorf("%s: source %q must be a workload without sidecar", p, e.Source))
			}
		case TrafficBurst:
			if e.Magnitude <= 0 {
				errs = append(errs, fmt.Errorf("%s: magnitude is the burst's extra requests per second (> 0)", p))
			}
			if len(routesReaching(m, e.Target)) == 0 {
				errs = append(errs, fmt.Errorf("%s: no route of the mesh reaches %q", p, e.Target))
			}
		case Overload:
			if e.Magnitude <= 0 || e.Magnitude > 1 {
				errs = append(errs, fmt.Errorf("%s: magnitude is the share of first attempts failed, in (0,1]", p))
			}
		case CanaryProgression:
			if !w.CanaryTarget {
				errs = append(errs, fmt.Errorf("%s: target %q is not a Flagger canary target", p, e.Target))
			}
		}
		for j, g := range e.Gates {
			switch {
			case e.Kind != CanaryProgression:
				errs = append(errs, fmt.Errorf("%s: gates belong to a canary-progression", p))
			case !slices.Contains(gateTypes, g):
				errs = append(errs, fmt.Errorf("%s: gate %q is not one of %v", p, g, gateTypes))
			case slices.Contains(e.Gates[:j], g):
				errs = append(errs, fmt.Errorf("%s: gate %q twice", p, g))
			}
		}
	}
	return errors.Join(errs...)
}

var builtin = sync.OnceValues(func() ([]*Scenario, error) { return loadScenarios(scenarioFiles) })

// Scenarios returns (copies of) every built-in scenario, sorted by name.
func Scenarios() []*Scenario {
	all, err := builtin()
	if err != nil {
		panic("simulator: built-in scenarios are invalid: " + err.Error())
	}
	out := make([]*Scenario, len(all))
	for i, s := range all {
		c := *s
		c.Effects = slices.Clone(s.Effects)
		for j := range c.Effects {
			c.Effects[j].Gates = slices.Clone(c.Effects[j].Gates)
		}
		c.Truth.Affected = slices.Clone(s.Truth.Affected)
		c.Truth.Additional = nil
		for _, f := range s.Truth.Additional {
			f.Affected = slices.Clone(f.Affected)
			c.Truth.Additional = append(c.Truth.Additional, f)
		}
		if s.Topology != nil {
			t := *s.Topology
			if t.Spec != nil {
				t.Spec = t.Spec.clone()
			}
			c.Topology = &t
		}
		out[i] = &c
	}
	return out
}

func loadScenarios(fsys fs.FS) ([]*Scenario, error) {
	names, err := fs.Glob(fsys, "scenarios/*.yaml")
	if err != nil {
		return nil, err
	}
	var out []*Scenario
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		s, err := ParseScenario(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		if want := strings.TrimSuffix(path.Base(n), ".yaml"); s.Name != want {
			return nil, fmt.Errorf("%s: name %q does not match the file name", n, s.Name)
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ScenarioNames lists the built-in scenario names.
func ScenarioNames() []string {
	var names []string
	for _, s := range Scenarios() {
		names = append(names, s.Name)
	}
	return names
}

// LookupScenario finds a built-in scenario by name; the error lists the valid ones.
func LookupScenario(name string) (*Scenario, error) {
	for _, s := range Scenarios() {
		if s.Name == name {
			return s, nil
		}
	}
	return nil, fmt.Errorf("unknown scenario %q; valid scenarios: %s", name, strings.Join(ScenarioNames(), ", "))
}
