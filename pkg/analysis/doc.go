// Package analysis writes an incident's root-cause analysis with a local LLM
// on Ollama, from the incident's evidence pack (pkg/evidence) and ranked
// findings (pkg/findings).
package analysis
