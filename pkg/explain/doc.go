// Package explain is "Explain this panel": a dashboard panel's menu link
// sends the panel, its queries and a compact summary per series (never raw
// points); the backend asks the local model, with a JSON schema of its
// own, what the panel shows, what is notable (each point citing a series),
// the likely causes and the queries to run next, streams the answer on a
// Live channel per request (explain/<id>), and guards it: points citing no
// series of the request are marked, and a suggested query becomes a link
// only when it parses. The explanations share pkg/analysis' model queue,
// so the GPU runs one job at a time.
package explain
