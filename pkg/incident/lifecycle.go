package incident

import (
	"sort"
	"time"
)

// State is an incident's state.
type State string

const (
	StateOpen     State = "open"
	StateResolved State = "resolved"
)

// Incident is every alert of one group key over one stretch of trouble.
type Incident struct {
	ID    int64 `json:"id"`
	Key   Key   `json:"key"`
	State State `json:"state"`
	// Severity is the most severe severity label among the firing alerts
	// (among all of them once resolved).
	Severity string `json:"severity"`
	// Title is the alertname of the most severe firing alert (the earliest
	// to start among equals); Summary its summary or description annotation.
	Title   string `json:"title"`
	Summary string `json:"summary,omitempty"`
	// StartedAt is the earliest startsAt of its alerts; ResolvedAt when the
	// last of them resolved (zero while open).
	StartedAt  time.Time `json:"startedAt"`
	ResolvedAt time.Time `json:"resolvedAt,omitempty"`
	UpdatedAt  time.Time `json:"updatedAt"`
	// Reopens are the times the incident reopened (the latest
	// MaxReopensKept); Flapping is set while Rules.Flapping holds.
	Reopens  []time.Time `json:"reopens,omitempty"`
	Flapping bool        `json:"flapping"`
	// Alerts counts its alert instances (distinct fingerprints), Firing
	// those firing now.
	Alerts int `json:"alerts"`
	Firing int `json:"firing"`
	// Version grows with every change; the store refuses a write made from
	// an older version.
	Version int64 `json:"version"`
	// TopFinding is the one line of the top finding of the latest evidence
	// capture ("" before any, or when nothing stands out); it is not part of
	// the lifecycle and does not change Version.
	TopFinding string `json:"topFinding,omitempty"`
	// Merge is its place in a group of incidents that are one fault.
	Merge `tstype:",extends"`
}

// Record is an alert as an incident keeps it.
type Record struct {
	Alert `tstype:",extends"`
	// FirstSeen and LastSeen are when MeshWatch first and last received it.
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
}

// Rules are the lifecycle rules, written down:
//
//   - Dedupe: an alert instance is its fingerprint. A delivery of a known
//     fingerprint updates its record (status, endsAt, annotations); it never
//     adds a second one.
//   - Stale deliveries are ignored: a firing delivery with the startsAt of a
//     record already resolved (a retry that arrives after the resolution), or
//     with a startsAt older than the record's.
//   - Resolve: an incident resolves when all its alerts have resolved;
//     ResolvedAt is the latest endsAt among them (the time of the delivery
//     when a sender gave none).
//   - Reopen: an alert of the same key that fires within ReopenWindow after
//     the incident resolved reopens it (the same incident, its Reopens grow);
//     later, it opens a new incident.
//   - Flapping: an incident that reopened FlapReopens times within
//     FlapWindow is flagged as flapping, for as long as that holds.
//   - A resolved alert never seen firing is kept as history in the incident
//     resolved within ReopenWindow, or in a new, resolved incident when its
//     key has none at all; otherwise it is ignored (Alertmanager repeats the
//     resolved alerts of a group in later notifications, and those must not
//     open an incident each time).
type Rules struct {
	ReopenWindow time.Duration
	FlapWindow   time.Duration
	FlapReopens  int
}

// DefaultRules: reopen within 30 minutes; flapping at 3 reopens in an hour.
var DefaultRules = Rules{ReopenWindow: 30 * time.Minute, FlapWindow: time.Hour, FlapReopens: 3}

// MaxReopensKept bounds Incident.Reopens.
const MaxReopensKept = 16

// Group is what the store holds of one group key when a batch touches it:
// its open incident, or else the one that resolved last (nil when the key
// has none), with every record of it.
type Group struct {
	Incident *Incident
	Records  []Record
}

// Change is one incident a batch changed: the incident as it now is (ID 0
// when new), the records to write (new or changed), and what happened.
type Change struct {
	Incident Incident
	Records  []Record
	Created  bool
	Reopened bool
	Resolved bool
}

// Outcome is what Apply made of a batch for one key.
type Outcome struct {
	Changes []Change
	// Ignored are stale deliveries, and repeats that changed nothing.
	Ignored int
}

// Apply is the lifecycle stage: it applies alerts (all of group key key, in
// delivery order) to the group g at time now, by the Rules. It is pure: the
// store loads g, calls Apply and writes the Changes in the same transaction.
func Apply(g Group, key Key, alerts []Alert, now time.Time, r Rules) Outcome {
	var out Outcome
	cur := newWork(g)
	var done []*work
	for _, a := range alerts {
		rec, i := cur.find(a.Fingerprint)
		open := cur.inc != nil && cur.inc.State == StateOpen
		recent := cur.inc != nil && cur.inc.State == StateResolved && now.Sub(cur.inc.ResolvedAt) <= r.ReopenWindow
		switch {
		case rec != nil && stale(*rec, a):
			out.Ignored++
		case open && rec != nil:
			if !cur.update(i, a, now) {
				out.Ignored++
			}
		case open:
			cur.add(a, now)
		case a.Resolved() && rec != nil:
			out.Ignored++ // already resolved with its incident
		case recent && a.Resolved():
			cur.add(a, now)
		case a.Resolved() && cur.inc != nil:
			out.Ignored++ // the end of an alert of an earlier stretch of trouble: nothing to open
		case recent:
			cur.reopen(now)
			if rec != nil {
				cur.update(i, a, now)
			} else {
				cur.add(a, now)
			}
		default:
			if cur.inc != nil && cur.dirty {
				done = append(done, cur)
			}
			cur = &work{inc: &Incident{Key: key, State: StateOpen}, created: true}
			cur.add(a, now)
		}
	}
	if cur.dirty || cur.created {
		done = append(done, cur)
	}
	for _, w := range done {
		out.Changes = append(out.Changes, w.finish(now, r))
	}
	return out
}

// stale reports whether a is an out-of-date delivery of rec's alert.
func stale(rec Record, a Alert) bool {
	if a.StartsAt.Before(rec.StartsAt) {
		return true
	}
	return !a.Resolved() && rec.Resolved() && a.StartsAt.Equal(rec.StartsAt)
}

type work struct {
	inc      *Incident
	recs     []Record
	changed  map[string]bool
	dirty    bool
	created  bool
	reopened bool
	wasOpen  bool
}

func newWork(g Group) *work {
	w := &work{recs: append([]Record(nil), g.Records...)}
	if g.Incident != nil {
		inc := *g.Incident
		inc.Reopens = append([]time.Time(nil), inc.Reopens...)
		w.inc = &inc
		w.wasOpen = inc.State == StateOpen
	}
	return w
}

func (w *work) find(fp string) (*Record, int) {
	for i := range w.recs {
		if w.recs[i].Fingerprint == fp {
			return &w.recs[i], i
		}
	}
	return nil, -1
}

func (w *work) mark(fp string) {
	if w.changed == nil {
		w.changed = map[string]bool{}
	}
	w.changed[fp] = true
	w.dirty = true
}

func (w *work) add(a Alert, now time.Time) {
	w.recs = append(w.recs, Record{Alert: a, FirstSeen: now, LastSeen: now})
	w.mark(a.Fingerprint)
}

// update applies a to record i and reports whether anything a user sees
// changed (a repeat of the same state only moves LastSeen, which is not
// written on its own).
func (w *work) update(i int, a Alert, now time.Time) bool {
	old := w.recs[i]
	next := old
	next.Status, next.StartsAt, next.EndsAt = a.Status, a.StartsAt, a.EndsAt
	next.Annotations, next.GeneratorURL, next.Source = a.Annotations, a.GeneratorURL, a.Source
	next.LastSeen = now
	if old.Status == next.Status && old.StartsAt.Equal(next.StartsAt) && old.EndsAt.Equal(next.EndsAt) &&
		old.GeneratorURL == next.GeneratorURL && sameMap(old.Annotations, next.Annotations) {
		return false
	}
	w.recs[i] = next
	w.mark(a.Fingerprint)
	return true
}

func (w *work) reopen(now time.Time) {
	w.inc.State = StateOpen
	w.inc.ResolvedAt = time.Time{}
	w.inc.Reopens = append(w.inc.Reopens, now)
	if n := len(w.inc.Reopens); n > MaxReopensKept {
		w.inc.Reopens = w.inc.Reopens[n-MaxReopensKept:]
	}
	w.reopened = true
	w.dirty = true
}

// finish derives the incident's summary fields from its records.
func (w *work) finish(now time.Time, r Rules) Change {
	inc := w.inc
	inc.Alerts, inc.Firing = len(w.recs), 0
	var lead *Record
	var lastEnd time.Time
	for i := range w.recs {
		rec := &w.recs[i]
		if !rec.Resolved() {
			inc.Firing++
		}
		if inc.StartedAt.IsZero() || rec.StartsAt.Before(inc.StartedAt) {
			inc.StartedAt = rec.StartsAt
		}
		if rec.EndsAt.After(lastEnd) {
			lastEnd = rec.EndsAt
		}
		if lead == nil || leads(*rec, *lead) {
			lead = rec
		}
	}
	if lead != nil {
		inc.Severity, inc.Title = lead.Severity(), lead.Name()
		inc.Summary = lead.Annotations["summary"]
		if inc.Summary == "" {
			inc.Summary = lead.Annotations["description"]
		}
	}
	resolvedNow := false
	if inc.Firing == 0 {
		if inc.State == StateOpen || w.created {
			inc.State = StateResolved
			inc.ResolvedAt = lastEnd
			if inc.ResolvedAt.IsZero() {
				inc.ResolvedAt = now
			}
			resolvedNow = w.wasOpen || w.reopened
		}
	} else {
		inc.State = StateOpen
		inc.ResolvedAt = time.Time{}
	}
	inc.Flapping = r.flapping(inc.Reopens, now)
	inc.UpdatedAt = now
	inc.Version++
	c := Change{Incident: *inc, Created: w.created, Reopened: w.reopened && !w.created, Resolved: resolvedNow}
	for _, rec := range w.recs {
		if w.changed[rec.Fingerprint] {
			c.Records = append(c.Records, rec)
		}
	}
	sort.Slice(c.Records, func(i, j int) bool { return c.Records[i].Fingerprint < c.Records[j].Fingerprint })
	return c
}

// leads reports whether a should title the incident rather than b: firing
// before resolved, then more severe, then earlier, then by name, then by
// fingerprint. It is a total order, so the lead (and the summary it gives)
// does not depend on the order a store loads the records in.
func leads(a, b Record) bool {
	if a.Resolved() != b.Resolved() {
		return !a.Resolved()
	}
	if MoreSevere(a.Severity(), b.Severity()) || MoreSevere(b.Severity(), a.Severity()) {
		return MoreSevere(a.Severity(), b.Severity())
	}
	if !a.StartsAt.Equal(b.StartsAt) {
		return a.StartsAt.Before(b.StartsAt)
	}
	if a.Name() != b.Name() {
		return a.Name() < b.Name()
	}
	return a.Fingerprint < b.Fingerprint
}

// flapping reports whether FlapReopens of reopens fall within FlapWindow
// before now.
func (r Rules) flapping(reopens []time.Time, now time.Time) bool {
	if r.FlapReopens <= 0 {
		return false
	}
	n := 0
	for _, t := range reopens {
		if now.Sub(t) <= r.FlapWindow {
			n++
		}
	}
	return n >= r.FlapReopens
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}
