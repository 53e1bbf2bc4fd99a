package explain

import (
	"fmt"
	"sort"

	"github.com/meshwatch/meshwatch/pkg/analysis"
)

// PromptTokens is the most an explanation's prompt may take, whatever the
// context allows: on a CPU host the prompt's evaluation is most of the
// wait, and the modal is something a person watches.
// BenchmarkBuildPrompt reports the size of a 200-series request.
const PromptTokens = 2000

// The shrink steps Fit takes, in this order, each only while the prompt is
// over its budget (it is never cut silently; ShrinkStep records each):
//
//  1. StepChangePoints: drop every series' change points.
//  2. StepGaps: drop every series' gaps.
//  3. StepSeries: keep the first N series (the most N that fit; the
//     frontend sends them in its own order of interest), counting the rest
//     in omittedSeries, which the model sees.
//
// If one series alone is still over, Fit refuses with a *BudgetError.
const (
	StepChangePoints = "drop-change-points"
	StepGaps         = "drop-gaps"
	StepSeries       = "keep-first-series"
)

// Budget is the prompt budget of the LLM settings: pkg/analysis's
// PromptBudget (num_ctx − num_predict − the retry's reserve), at most
// PromptTokens.
func Budget(numCtx, numPredict int) int {
	return min(analysis.PromptBudget(numCtx, numPredict), PromptTokens)
}

// BudgetError is a request whose prompt does not fit even with one series
// left.
type BudgetError struct {
	Estimate, Budget int
}

func (e *BudgetError) Error() string {
	return fmt.Sprintf("the panel's prompt needs about %d tokens even with one series, but the budget is %d (ollama.numCtx minus ollama.numPredict, at most %d): the panel's queries or title are too long to explain",
		e.Estimate, e.Budget, PromptTokens)
}

// Fit builds the prompt of r within budget tokens, shrinking by the steps
// above while it is over, and says what it left out.
func Fit(r Request, budget int) (Prompt, []analysis.ShrinkStep, error) {
	sz := full
	pr := build(r, sz)
	var steps []analysis.ShrinkStep
	over := func() bool { return pr.Estimate > budget }
	count := func(f func(Series) int) int {
		n := 0
		for _, s := range r.Series {
			n += f(s)
		}
		return n
	}
	if over() {
		if n := count(func(s Series) int { return len(s.ChangePoints) }); n > 0 {
			sz.changePoints = false
			pr = build(r, sz)
			steps = append(steps, analysis.ShrinkStep{Step: StepChangePoints, Count: n, Tokens: pr.Estimate})
		}
	}
	if over() {
		if n := count(func(s Series) int { return len(s.Gaps) }); n > 0 {
			sz.gaps = false
			pr = build(r, sz)
			steps = append(steps, analysis.ShrinkStep{Step: StepGaps, Count: n, Tokens: pr.Estimate})
		}
	}
	if over() && len(r.Series) > 1 {
		// The prompt grows with the number of series kept: the most that
		// fit, by binary search (at least one).
		keep := sort.Search(len(r.Series), func(n int) bool {
			s := sz
			s.series = n + 1
			return build(r, s).Estimate > budget
		})
		sz.series = max(keep, 1)
		pr = build(r, sz)
		var gone []string
		for _, s := range r.Series[sz.series:] {
			gone = append(gone, s.ID)
		}
		steps = append(steps, analysis.ShrinkStep{Step: fmt.Sprintf("%s-%d", StepSeries, sz.series), Dropped: gone, Count: len(gone), Tokens: pr.Estimate})
	}
	if over() {
		return pr, steps, &BudgetError{Estimate: pr.Estimate, Budget: budget}
	}
	return pr, steps, nil
}
