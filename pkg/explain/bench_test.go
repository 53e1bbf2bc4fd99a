package explain

import (
	"testing"

	"github.com/meshwatch/meshwatch/pkg/settings"
)

// BenchmarkBuildPrompt builds the prompt of a 200-series request (each
// with a change point and a gap) as Fit does for the default model
// settings, and reports the prompt's size: bytes, estimated tokens, and
// how many series fit the budget.
func BenchmarkBuildPrompt(b *testing.B) {
	r := request(200)
	s := settings.Defaults().Ollama
	budget := Budget(s.NumCtx, s.NumPredict)
	whole := BuildPrompt(r)
	var pr Prompt
	for b.Loop() {
		var err error
		if pr, _, err = Fit(r, budget); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(whole.System)+len(whole.User)), "full-bytes")
	b.ReportMetric(float64(whole.Estimate), "full-tokens")
	b.ReportMetric(float64(len(pr.System)+len(pr.User)), "fit-bytes")
	b.ReportMetric(float64(pr.Estimate), "fit-tokens")
	b.ReportMetric(float64(len(pr.IDs)), "fit-series")
}
