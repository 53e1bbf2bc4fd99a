package canaries

import (
	"sort"
	"strings"
	"time"
)

// Event is a Kubernetes Event about a Canary, as the history needs it.
type Event struct {
	Namespace string
	// Canary is involvedObject.name.
	Canary  string
	UID     string
	Type    string // Normal or Warning
	Reason  string
	Message string
	// At is when it last happened; Count how often.
	At    time.Time
	Count int
}

// EventFromObject reads a core/v1 Event (unstructured JSON); ok is false
// when it is not about a Canary.
func EventFromObject(obj map[string]any) (Event, bool) {
	io := mapAt(obj, "involvedObject")
	if str(io, "kind") != "Canary" {
		return Event{}, false
	}
	ev := Event{Namespace: str(io, "namespace"), Canary: str(io, "name"), UID: str(mapAt(obj, "metadata"), "uid"),
		Type: str(obj, "type"), Reason: str(obj, "reason"), Message: str(obj, "message"), Count: num(obj, "count")}
	if ev.Namespace == "" {
		ev.Namespace = str(mapAt(obj, "metadata"), "namespace")
	}
	for _, at := range []time.Time{timeAt(obj, "lastTimestamp"), timeAt(mapAt(obj, "series"), "lastObservedTime"),
		timeAtMicro(obj, "eventTime"), timeAt(obj, "firstTimestamp"), timeAt(mapAt(obj, "metadata"), "creationTimestamp")} {
		if !at.IsZero() {
			ev.At = at
			break
		}
	}
	return ev, true
}

func timeAtMicro(m map[string]any, k string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, str(m, k))
	if err != nil {
		return time.Time{}
	}
	return t
}

// historyPrefixes classify Flagger's event messages (pkg/controller of
// Flagger v1.44), first match wins.
var historyPrefixes = []struct{ prefix, kind string }{
	{"Rolling back", HistoryRollback},
	{"Canary failed!", HistoryRollback},
	{"Progress deadline exceeded", HistoryRollback},
	{"Promotion completed!", HistoryPromotion},
	{"Copying ", HistoryPromotion},
	{"Routing all traffic to primary", HistoryPromotion},
	{"Canary analysis completed successfully", HistoryPromotion},
	{"Promotion failed", HistoryRollback},
	{"Promotion of ", HistoryRollback},
	{"Halt ", HistoryHalt},
	{"Halt advancement", HistoryHalt},
	{"Metric query failed", HistoryHalt},
	{"Prometheus query failed", HistoryHalt},
	{"Advance ", HistoryProgression},
	{"Starting canary analysis", HistoryProgression},
	{"New revision detected", HistoryProgression},
	{"Canary promotion is waiting for approval", HistoryGate},
	{"Canary is waiting for approval", HistoryGate},
	{"Canary traffic increase is waiting for approval", HistoryGate},
	{"Confirm-", HistoryGate},
	{"Rollback check", HistoryGate},
}

// aggregated is what client-go's event correlator puts before a message it
// combined from similar events (Flagger's recorder aggregates).
const aggregated = "(combined from similar events): "

// Classify is the history kind of a Flagger event message.
func Classify(message string) string {
	message = strings.TrimPrefix(message, aggregated)
	for _, p := range historyPrefixes {
		if strings.HasPrefix(message, p.prefix) {
			if p.kind == HistoryHalt && strings.Contains(message, "waiting for") && strings.Contains(message, "approval") {
				return HistoryGate
			}
			return p.kind
		}
	}
	return HistoryInfo
}

// History turns a canary's events into its history, oldest first (equal
// times keep the order given).
func History(events []Event) []HistoryEntry {
	out := make([]HistoryEntry, 0, len(events))
	for _, ev := range events {
		out = append(out, HistoryEntry{At: ev.At, Kind: Classify(ev.Message), Message: strings.TrimPrefix(ev.Message, aggregated),
			Warning: ev.Type == "Warning", Count: ev.Count})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}
