package simulator

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// StreamLabels are the Loki stream labels of a log line (what Alloy or
// Promtail's Kubernetes discovery attaches, plus the parsed level).
type StreamLabels struct {
	Namespace string `json:"namespace"`
	App       string `json:"app"`
	Pod       string `json:"pod"`
	Container string `json:"container"`
	Level     string `json:"level"`
}

func (l StreamLabels) key() string {
	return l.Namespace + "\x00" + l.App + "\x00" + l.Pod + "\x00" + l.Container + "\x00" + l.Level
}

// LogEntry is one structured (JSON) log line of a container.
type LogEntry struct {
	Time   time.Time    `json:"ts"`
	Labels StreamLabels `json:"labels"`
	Line   string       `json:"line"`
}

// log appends one JSON log line: ts, level, msg, service, version, then the
// fields in key order.
func (e *Engine) log(t time.Time, p *pod, c *container, level, msg string, fields map[string]any) {
	var b strings.Builder
	b.WriteString(`{"ts":"`)
	b.WriteString(t.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	b.WriteString(`","level":"`)
	b.WriteString(level)
	b.WriteString(`","msg":`)
	writeJSONValue(&b, msg)
	b.WriteString(`,"service":"`)
	b.WriteString(p.w.App)
	b.WriteString(`","version":"`)
	b.WriteString(p.version)
	b.WriteByte('"')
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString(`,"`)
		b.WriteString(k)
		b.WriteString(`":`)
		writeJSONValue(&b, fields[k])
	}
	b.WriteByte('}')
	e.logs = append(e.logs, LogEntry{Time: t, Line: b.String(), Labels: StreamLabels{
		Namespace: p.w.Namespace, App: p.w.App, Pod: p.name, Container: c.name, Level: level,
	}})
}

func writeJSONValue(b *strings.Builder, v any) {
	switch x := v.(type) {
	case int:
		b.WriteString(strconv.Itoa(x))
	case float64:
		b.WriteString(strconv.FormatFloat(x, 'f', -1, 64))
	default:
		j, _ := json.Marshal(x)
		b.Write(j)
	}
}

// DrainLogs returns the log lines produced since the last call, in time order.
func (e *Engine) DrainLogs() []LogEntry {
	out := e.logs
	e.logs = nil
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// WriteLogsJSONL writes entries one JSON object per line
// ({"ts":…,"labels":{…},"line":"…"}).
func WriteLogsJSONL(w io.Writer, entries []LogEntry) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for _, e := range entries {
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// ReadLogsJSONL reads what WriteLogsJSONL wrote.
func ReadLogsJSONL(r io.Reader) ([]LogEntry, error) {
	var out []LogEntry
	dec := json.NewDecoder(r)
	for {
		var e LogEntry
		if err := dec.Decode(&e); err == io.EOF {
			return out, nil
		} else if err != nil {
			return out, err
		}
		out = append(out, e)
	}
}

// LokiPusher sends log lines to Loki's push API, POST /loki/api/v1/push,
// in JSON ({"streams":[{"stream":{…},"values":[["<unix ns>","<line>"]]}]}).
type LokiPusher struct {
	URL       string       // Loki base URL, e.g. http://127.0.0.1:3100
	Client    *http.Client // nil: a client with a 30 s timeout
	TenantID  string       // X-Scope-OrgID when Loki runs multi-tenant
	BatchSize int          // lines per request; zero means 2000
}

type lokiStream struct {
	Stream map[string]string `json:"stream"`
	Values [][2]string       `json:"values"`
}

// LokiPushBody builds the JSON body of one push request for entries.
func LokiPushBody(entries []LogEntry) ([]byte, error) {
	byKey := map[string]*lokiStream{}
	var order []string
	for _, e := range entries {
		k := e.Labels.key()
		s := byKey[k]
		if s == nil {
			s = &lokiStream{Stream: map[string]string{
				"namespace": e.Labels.Namespace, "app": e.Labels.App, "pod": e.Labels.Pod,
				"container": e.Labels.Container, "level": e.Labels.Level,
			}}
			byKey[k] = s
			order = append(order, k)
		}
		s.Values = append(s.Values, [2]string{strconv.FormatInt(e.Time.UnixNano(), 10), e.Line})
	}
	sort.Strings(order)
	body := struct {
		Streams []*lokiStream `json:"streams"`
	}{}
	for _, k := range order {
		body.Streams = append(body.Streams, byKey[k])
	}
	return json.Marshal(body)
}

// Push sends entries (sorted by time first) in batches, retrying 429 and
// 5xx answers with back-off.
func (p *LokiPusher) Push(ctx context.Context, entries []LogEntry) error {
	if len(entries) == 0 {
		return nil
	}
	sorted := append([]LogEntry(nil), entries...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Time.Before(sorted[j].Time) })
	n := p.BatchSize
	if n <= 0 {
		n = 2000
	}
	client := p.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	url := strings.TrimSuffix(p.URL, "/") + "/loki/api/v1/push"
	for i := 0; i < len(sorted); i += n {
		batch := sorted[i:min(i+n, len(sorted))]
		body, err := LokiPushBody(batch)
		if err != nil {
			return err
		}
		if err := p.send(ctx, client, url, body); err != nil {
			return err
		}
	}
	return nil
}

func (p *LokiPusher) send(ctx context.Context, client *http.Client, url string, body []byte) error {
	backoff := 250 * time.Millisecond
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		if p.TenantID != "" {
			req.Header.Set("X-Scope-OrgID", p.TenantID)
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("loki push: %w", err)
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			return nil
		}
		retriable := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
		if !retriable || attempt >= 5 {
			return fmt.Errorf("loki push: %s: %s", resp.Status, strings.TrimSpace(string(msg)))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}
