package analysis

import (
	"fmt"
	"slices"

	"github.com/meshwatch/meshwatch/pkg/evidence"
	"github.com/meshwatch/meshwatch/pkg/findings"
)

// Budget is the prompt's room in the context: num_ctx minus num_predict
// (the answer's room), since Ollama's num_ctx holds both.
func Budget(numCtx, numPredict int) int { return numCtx - numPredict }

// ShrinkStep is one step Fit took to make the prompt fit, for the record
// the incident keeps ("never cut silently").
type ShrinkStep struct {
	// Step names the step (the priority order below).
	Step string `json:"step"`
	// Dropped are the evidence ids (or, for findings, "cause namespace/
	// workload") the step left out; Count how many items in all (log
	// examples have no id of their own: the pattern's id is listed).
	Dropped []string `json:"dropped,omitempty"`
	Count   int      `json:"count"`
	// Tokens is the estimate after the step.
	Tokens int `json:"tokens"`
}

// The shrink steps, in the order Fit tries them; each runs only while the
// estimate is over the budget, and keeps what the remaining findings cite
// where it can:
//
//  1. StepFindings: keep the top KeepFindings findings.
//  2. StepTraces: drop the traces (the metrics and logs carry the cause;
//     traces only illustrate it).
//  3. StepExamples: drop the log patterns' example lines (the normalized
//     patterns stay).
//  4. StepLogs: keep the top KeepLogs log patterns and those a finding
//     cites.
//  5. StepCompact: evidence.Compact to CompactBudgets, each smaller than
//     the last: it drops flat and repeated metrics first, then the least
//     informative items by score.
//
// If the prompt is still over the budget, Fit refuses with a
// *BudgetError: a prompt is never cut silently, and Ollama (truncate
// false) would refuse it anyway.
const (
	StepFindings = "keep-top-findings"
	StepTraces   = "drop-traces"
	StepExamples = "drop-log-examples"
	StepLogs     = "keep-top-logs"
	StepCompact  = "compact"

	KeepFindings = 3
	KeepLogs     = 3
)

// CompactBudgets are the pack sizes (bytes of JSON) StepCompact tries.
var CompactBudgets = []int{4096, 3072, 2048, 1536, 1024}

// BudgetError is a prompt that does not fit the context even after every
// shrink step.
type BudgetError struct {
	Estimate, Budget int
	NumCtx           int
	NumPredict       int
	Shrunk           []ShrinkStep
}

func (e *BudgetError) Error() string {
	return fmt.Sprintf("the prompt needs about %d tokens even with the evidence shrunk (%d steps), but num_ctx %d minus num_predict %d leaves %d: raise ollama.numCtx to at least %d, or lower ollama.numPredict",
		e.Estimate, len(e.Shrunk), e.NumCtx, e.NumPredict, e.Budget, e.Estimate+e.NumPredict)
}

// Fit builds the prompt of the pack and findings within budget tokens,
// shrinking by the steps above while it is over, and says what it left out.
func Fit(p evidence.Pack, fs []findings.Finding, budget int) (Prompt, []ShrinkStep, error) {
	pr := BuildPrompt(p, fs)
	var steps []ShrinkStep
	over := func() bool { return pr.Estimate > budget }
	record := func(step string, dropped []string, count int) {
		pr = BuildPrompt(p, fs)
		steps = append(steps, ShrinkStep{Step: step, Dropped: dropped, Count: count, Tokens: pr.Estimate})
	}
	cited := func() map[string]bool {
		m := map[string]bool{}
		for _, f := range fs {
			for _, id := range f.Evidence {
				m[id] = true
			}
		}
		return m
	}
	if over() && len(fs) > KeepFindings {
		var gone []string
		for _, f := range fs[KeepFindings:] {
			gone = append(gone, string(f.Cause)+" "+f.Namespace+"/"+f.Workload)
		}
		fs = fs[:KeepFindings:KeepFindings]
		record(StepFindings, gone, len(gone))
	}
	if over() && len(p.Traces) > 0 {
		var gone []string
		for _, t := range p.Traces {
			gone = append(gone, t.ID)
		}
		p.Traces = nil
		p.Dropped = addDropped(p.Dropped, evidence.Dropped{Traces: len(gone)})
		record(StepTraces, gone, len(gone))
	}
	if over() {
		var gone []string
		logs := slices.Clone(p.Logs)
		for i := range logs {
			if logs[i].Example != "" {
				gone = append(gone, logs[i].ID)
				logs[i].Example = ""
			}
		}
		if len(gone) > 0 {
			p.Logs = logs
			record(StepExamples, gone, len(gone))
		}
	}
	if over() && len(p.Logs) > KeepLogs {
		keep := cited()
		var kept []evidence.LogPattern
		var gone []string
		for i, l := range p.Logs {
			if i < KeepLogs || keep[l.ID] {
				kept = append(kept, l)
			} else {
				gone = append(gone, l.ID)
			}
		}
		if len(gone) > 0 {
			p.Logs = kept
			p.Dropped = addDropped(p.Dropped, evidence.Dropped{Logs: len(gone)})
			record(StepLogs, gone, len(gone))
		}
	}
	for _, size := range CompactBudgets {
		if !over() {
			break
		}
		if len(p.JSON()) <= size {
			continue
		}
		var rep evidence.CompactReport
		p, rep = evidence.Compact(p, size)
		record(fmt.Sprintf("%s-%d", StepCompact, size), rep.Dropped, len(rep.Dropped)+rep.Examples+rep.Scope)
	}
	if over() {
		return pr, steps, &BudgetError{Estimate: pr.Estimate, Budget: budget, Shrunk: steps}
	}
	return pr, steps, nil
}

func addDropped(d *evidence.Dropped, more evidence.Dropped) *evidence.Dropped {
	out := evidence.Dropped{}
	if d != nil {
		out = *d
	}
	out.Metrics += more.Metrics
	out.Logs += more.Logs
	out.Traces += more.Traces
	out.Scope += more.Scope
	return &out
}
