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

// RetryReserve is the room kept for the retry's note (RetryNote with its
// reason), so the retry of a prompt that fits fits too.
var RetryReserve = ceilDiv(len(RetryNote)+MaxText, ProseBytesPerToken)

// PromptBudget is what Fit gets: Budget less RetryReserve.
func PromptBudget(numCtx, numPredict int) int { return Budget(numCtx, numPredict) - RetryReserve }

// PromptTokens is the prompt size Fit aims for before any budget applies
// (StepPromptPack): on a CPU host the prompt's evaluation is most of an
// analysis' time, and a small model reads a short prompt better. A pack
// whose prompt is larger is compacted (evidence.Compact, keeping the first
// KeepCited ids each of the top findings cites) to PromptPackBytes, then in
// steps of 512 bytes down to 1 KiB, until the estimate is at most
// PromptTokens: a stored pack holds every series Collect read, tens of
// kilobytes for a busy scope, most of it flat. BenchmarkPromptTokens
// reports the result per scenario.
const (
	PromptTokens    = 1500
	PromptPackBytes = 3072
)

// The shrink steps. StepPromptPack always runs (when the pack is larger);
// the others, in this order, each only while the estimate is over the
// budget; every step keeps what the top KeepFindings findings cite:
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
	StepPromptPack = "prompt-pack"
	StepFindings   = "keep-top-findings"
	StepTraces     = "drop-traces"
	StepExamples   = "drop-log-examples"
	StepLogs       = "keep-top-logs"
	StepCompact    = "compact"

	KeepFindings = 3
	KeepLogs     = 3
	// KeepCited is how many of a finding's evidence ids (most telling
	// first) StepPromptPack keeps.
	KeepCited = 5
)

// CompactBudgets are the pack sizes (bytes of JSON) StepCompact tries.
var CompactBudgets = []int{2048, 1536, 1024}

// BudgetError is a prompt that does not fit the context even after every
// shrink step.
type BudgetError struct {
	Estimate, Budget int
	NumCtx           int
	NumPredict       int
	Shrunk           []ShrinkStep
}

func (e *BudgetError) Error() string {
	return fmt.Sprintf("the prompt needs about %d tokens even with the evidence shrunk (%d steps), but num_ctx %d minus num_predict %d (and the retry's reserve) leaves %d: raise ollama.numCtx to at least %d, or lower ollama.numPredict",
		e.Estimate, len(e.Shrunk), e.NumCtx, e.NumPredict, e.Budget, e.Estimate+e.NumPredict+RetryReserve)
}

// Fit builds the prompt of the pack and findings within budget tokens,
// shrinking by the steps above while it is over, and says what it left out.
func Fit(p evidence.Pack, fs []findings.Finding, budget int) (Prompt, []ShrinkStep, error) {
	var steps []ShrinkStep
	pr := BuildPrompt(p, fs)
	if pr.Estimate > PromptTokens {
		keep := map[string]bool{}
		for _, f := range fs[:min(len(fs), KeepFindings)] {
			for _, id := range f.Evidence[:min(len(f.Evidence), KeepCited)] {
				keep[id] = true
			}
		}
		full := p
		var gone []string
		cut, size, last := 0, PromptPackBytes, 0
		for ; size >= 1024; size -= 512 {
			if len(full.JSON()) <= size {
				continue
			}
			p, gone, cut = compactKeeping(full, keep, size)
			last = size
			if pr = BuildPrompt(p, fs); pr.Estimate <= PromptTokens {
				break
			}
		}
		if cut > 0 {
			steps = append(steps, ShrinkStep{Step: fmt.Sprintf("%s-%d", StepPromptPack, last), Dropped: gone, Count: cut, Tokens: pr.Estimate})
		}
	}
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
		var gone []string
		var cut int
		p, gone, cut = compactKeeping(p, cited(), size)
		if cut > 0 {
			record(fmt.Sprintf("%s-%d", StepCompact, size), gone, cut)
		}
	}
	if over() {
		return pr, steps, &BudgetError{Estimate: pr.Estimate, Budget: budget, Shrunk: steps}
	}
	return pr, steps, nil
}

// compactKeeping is evidence.Compact to size, with the items whose ids are
// in keep put back when Compact dropped them (after the others, in their
// rank order): the findings' evidence stays visible. It returns the ids
// left out and how many things were cut in all (items, log examples,
// neighbours).
func compactKeeping(in evidence.Pack, keep map[string]bool, size int) (evidence.Pack, []string, int) {
	p, rep := evidence.Compact(in, size)
	var gone []string
	var back evidence.Dropped
	for _, id := range rep.Dropped {
		if !keep[id] {
			gone = append(gone, id)
			continue
		}
		kind, i, ok := in.Lookup(id)
		switch {
		case !ok:
			gone = append(gone, id)
		case kind == "metric":
			p.Metrics = append(p.Metrics, in.Metrics[i])
			back.Metrics++
		case kind == "log":
			p.Logs = append(p.Logs, in.Logs[i])
			back.Logs++
		case kind == "trace":
			p.Traces = append(p.Traces, in.Traces[i])
			back.Traces++
		}
	}
	if p.Dropped != nil {
		d := *p.Dropped
		d.Metrics -= back.Metrics
		d.Logs -= back.Logs
		d.Traces -= back.Traces
		p.Dropped = &d
		if d == (evidence.Dropped{}) {
			p.Dropped = nil
		}
	}
	return p, gone, len(gone) + rep.Examples + rep.Scope
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
