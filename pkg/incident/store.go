package incident

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"time"
)

// Batch is one delivery of alerts from one source.
type Batch struct {
	// Source is SourceAlertmanager, SourceGrafana or SourcePrometheus; every
	// alert in the batch has it.
	Source string
	// Alerts, normalized (see Normalize).
	Alerts []Alert
	// Complete says Alerts is everything Source has active now (a
	// reconcile): the store resolves, at the batch's time, every alert of
	// Source it holds as firing that an earlier complete batch of Source
	// listed and this one does not. An alert only ever delivered by webhook
	// (another Alertmanager's, say) is left to its sender to resolve.
	Complete bool
}

// Ingested is what a batch did.
type Ingested struct {
	// Changes are the incidents the batch created or changed, as they now
	// are, in group-key order.
	Changes []Change
	// Ignored counts stale or repeated deliveries that changed nothing;
	// MissingResolved the alerts a complete batch resolved.
	Ignored         int
	MissingResolved int
}

// Filter selects incidents for List. Zero values select everything.
type Filter struct {
	State     State
	Severity  string
	Namespace string
	// Grouped lists one row per group of incidents that are one fault: the
	// incidents merged into another (Merge.MergedInto) are left out, their
	// root's row counts them.
	Grouped bool
	// Limit caps the result (newest first); zero means DefaultListLimit.
	Limit int
}

// DefaultListLimit is List's default cap.
const DefaultListLimit = 500

// Store keeps incidents and their alerts. Implementations: package sqlite
// beside this one (the default, embedded); PostgreSQL for Grafana with
// several replicas. Every implementation passes storetest.Run.
type Store interface {
	// Ingest applies a batch (group by Grouping, then Apply per key, by
	// Rules) in one transaction at time now, and returns only once that
	// transaction has committed: an acknowledged batch survives a kill -9.
	Ingest(ctx context.Context, now time.Time, b Batch) (Ingested, error)
	// List returns incidents, open ones first, then by UpdatedAt, newest
	// first.
	List(ctx context.Context, f Filter) ([]Incident, error)
	// Get returns one incident and its alert records (firing first), or
	// ErrNotFound.
	Get(ctx context.Context, id int64) (Incident, []Record, error)
	// Prune deletes incidents resolved before before (the retention), with
	// their records, and says how many.
	Prune(ctx context.Context, before time.Time) (int, error)
	// SaveEvidence stores e as incident id's latest evidence capture (the
	// one before is replaced) and e.TopFinding on the incident; ErrNotFound
	// when there is no such incident.
	SaveEvidence(ctx context.Context, id int64, e Evidence) error
	// Evidence returns incident id's latest capture, or ErrNotFound when it
	// has none (yet).
	Evidence(ctx context.Context, id int64) (Evidence, error)
	// Merger groups the incidents of one fault under a root (merge.go).
	Merger
	// SchemaVersion is the version of the newest migration applied.
	SchemaVersion(ctx context.Context) (int, error)
	// Close releases the store's connections.
	Close() error
}

// Evidence is one evidence capture of an incident, as the store keeps it:
// the pack and the findings are JSON the store does not look into
// (pkg/evidence's Pack, pkg/findings' ranked findings).
type Evidence struct {
	CapturedAt time.Time       `json:"capturedAt"`
	Pack       json.RawMessage `json:"pack"`
	Findings   json.RawMessage `json:"findings"`
	// TopFinding is the top finding's one line, shown in the list.
	TopFinding string `json:"topFinding,omitempty"`
	// Partial names the sources the capture could not read.
	Partial []string `json:"partial,omitempty"`
}

// ErrNotFound: no incident has that id.
var ErrNotFound = errors.New("no such incident")

// ErrConflict: a write was made from an incident's older version (another
// writer changed it since it was read). The store refuses it, never
// overwrites; the whole Ingest is rolled back and may be retried.
var ErrConflict = errors.New("the incident changed since it was read")

// Config is what a store applies on every Ingest.
type Config struct {
	Grouping Grouping
	Rules    Rules
}

// Plan groups a batch's alerts by key, keeping delivery order within each
// key, and returns the keys in their canonical order: the grouping stage.
func Plan(g Grouping, alerts []Alert) ([]Key, map[Key][]Alert) {
	by := map[Key][]Alert{}
	var keys []Key
	for _, a := range alerts {
		k := g.Of(a.Labels)
		if _, ok := by[k]; !ok {
			keys = append(keys, k)
		}
		by[k] = append(by[k], a)
	}
	sortKeys(keys)
	return keys, by
}

func sortKeys(keys []Key) {
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
}
