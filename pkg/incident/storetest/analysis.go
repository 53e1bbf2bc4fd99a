package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/incident"
)

// testAnalyses: an incident's analyses are kept in order, the newest is
// the one read back, bad input is refused, and they go when the incident is
// pruned.
func testAnalyses(t *testing.T, s incident.Store) {
	as, ok := s.(incident.AnalysisStore)
	if !ok {
		t.Fatalf("%T does not keep analyses (incident.AnalysisStore)", s)
	}
	a := crashLooping(t, at(0), "shop", "checkout-7d9f8b6c5d-x2x9q")
	id := one(t, ingest(t, s, at(time.Minute), a)).Incident.ID
	if _, err := as.LatestAnalysis(ctx, id); !errors.Is(err, incident.ErrNotFound) {
		t.Fatalf("analysis before any: %v, want ErrNotFound", err)
	}
	first := incident.Analysis{IncidentID: id, EvidenceAt: at(2 * time.Minute), StartedAt: at(2 * time.Minute),
		FinishedAt: at(2*time.Minute + 2*time.Second), Model: "phi3:mini", Basis: "shop/checkout crashloop", Outcome: incident.WriteUpDone,
		Result: []byte(`{"answer":{"summary":"checkout restarts"}}`)}
	id1, err := as.SaveAnalysis(ctx, first)
	if err != nil || id1 == 0 {
		t.Fatalf("SaveAnalysis: %d, %v", id1, err)
	}
	second := first
	second.EvidenceAt, second.Outcome, second.Result = at(4*time.Minute), incident.WriteUpFailed, []byte(`{"fallback":"Ollama is down"}`)
	id2, err := as.SaveAnalysis(ctx, second)
	if err != nil || id2 <= id1 {
		t.Fatalf("second SaveAnalysis: %d (first %d), %v", id2, id1, err)
	}
	got, err := as.LatestAnalysis(ctx, id)
	if err != nil || got.ID != id2 || got.Outcome != incident.WriteUpFailed || string(got.Result) != string(second.Result) ||
		!got.EvidenceAt.Equal(second.EvidenceAt) || !got.FinishedAt.Equal(second.FinishedAt) || got.Model != "phi3:mini" || got.Basis != first.Basis {
		t.Fatalf("LatestAnalysis: %+v, %v", got, err)
	}
	for name, bad := range map[string]incident.Analysis{
		"not JSON":         {IncidentID: id, Model: "m", Outcome: incident.WriteUpDone, Result: []byte(`{`)},
		"unknown outcome":  {IncidentID: id, Model: "m", Outcome: "running", Result: []byte(`{}`)},
		"unknown incident": {IncidentID: id + 1000, Model: "m", Outcome: incident.WriteUpDone, Result: []byte(`{}`)},
	} {
		if _, err := as.SaveAnalysis(ctx, bad); err == nil {
			t.Errorf("%s: saved", name)
		}
	}
	if _, err := as.SaveAnalysis(ctx, incident.Analysis{IncidentID: id + 1000, Model: "m", Outcome: incident.WriteUpDone,
		Result: []byte(`{}`)}); !errors.Is(err, incident.ErrNotFound) {
		t.Errorf("an unknown incident's analysis: %v, want ErrNotFound", err)
	}
	one(t, ingest(t, s, at(5*time.Minute), resolve(t, a, at(5*time.Minute))))
	if _, err := s.Prune(ctx, at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := as.LatestAnalysis(ctx, id); !errors.Is(err, incident.ErrNotFound) {
		t.Errorf("a pruned incident's analysis: %v, want ErrNotFound", err)
	}
}
