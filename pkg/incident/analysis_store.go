package incident

import "context"

// AnalysisStore keeps incidents' analyses. The SQLite store implements it
// (and the PostgreSQL one will); storetest.RunAnalyses is its conformance
// suite.
type AnalysisStore interface {
	// SaveAnalysis stores a as a new analysis of a.IncidentID and returns
	// its id; ErrNotFound when there is no such incident.
	SaveAnalysis(ctx context.Context, a Analysis) (int64, error)
	// LatestAnalysis returns incident id's newest analysis, or ErrNotFound.
	LatestAnalysis(ctx context.Context, id int64) (Analysis, error)
}
