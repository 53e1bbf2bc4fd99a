// Package analysis writes an incident's root-cause analysis with a local LLM
// on Ollama, from the incident's evidence pack (pkg/evidence) and ranked
// findings (pkg/findings). The findings carry the incident page at once;
// the write-up streams in beneath them, and when there is none (Ollama down,
// model not pulled, an answer that is not the schema's JSON twice) the page
// says why and the findings stand.
//
// One analysis, for the incident capability:
//
//	q := analysis.NewQueue(onLineChange)           // one per process, shared
//	a, err := analysis.New(settings.Ollama, q, clock) // per settings version
//	in, err := analysis.InputFromJSON(id, storedPackJSON, storedFindingsJSON)
//	res, err := a.Run(ctx, in, analysis.Events{Queued: …, Attempt: …, Chunk: …})
//	// store res (JSON); err is nil when res.Status is "done"
//
// While it streams, PreviewSummary turns the text so far into the summary's
// words; q.Position(model, id) says how many analyses are ahead. The
// stored and shown types (Result, Answer, Verdicts…) are in wire.go.
//
// The pipeline, each stage a small pure function but the last:
//
//   - BuildPrompt: a fixed system prompt (SystemPrompt) and a user message
//     holding the pack and findings as compact JSON between DataOpen and
//     DataClose. Every string from a monitored system is Clean'ed (control
//     and invisible characters out, length capped) and JSON-quoted (the
//     encoder escapes < and >, so nothing inside can close the fence): log
//     lines are data, never instructions.
//   - Schema: the JSON Schema sent as format: summary; rootCause
//     {namespace, workload, cause from the findings' vocabulary, explanation,
//     evidence ids}; confidence; remediation [{action, why, command?,
//     evidence, risk}]. Cause "none" is the "insufficient evidence" answer.
//   - Fit: EstimateTokens (documented there: no tokenize endpoint) against
//     Budget = num_ctx − num_predict; over it, the pack shrinks in a
//     documented order and each step is recorded (ShrinkStep), or the
//     analysis is refused (BudgetError). Never cut silently: the request
//     also says truncate false, so Ollama errs instead of cutting.
//   - Request: stream, format, temperature 0, num_ctx and num_predict from
//     settings (num_ctx fixed per model: changing it reloads the model),
//     keep_alive, truncate and shift false.
//   - Guard: claims citing no or unknown ids are unsupported, steps naming
//     workloads outside the evidence flagged, commands allowlisted
//     (Allowlist) before the page may offer them as actions.
//   - Analyzer.Run: the queue (one analysis at a time per model, FIFO,
//     positions), /api/show and /api/ps (trained and allocated context),
//     the streamed chat (pkg/systems/ollama), one retry on an invalid
//     answer, the guard; Result with Ollama's counts and timings beside the
//     estimate.
//
// Models: phi3:mini (3.8B, 4k trained context) is the default. Other small
// models for CPU hosts are qwen2.5:3b (32k) and llama3.2:3b (128k), whose
// longer contexts let numCtx grow for larger packs. Nothing here has run
// them (no model runs on the test machines): measure any model with
// meshwatch eval --ollama URL --model M before relying on it.
package analysis
