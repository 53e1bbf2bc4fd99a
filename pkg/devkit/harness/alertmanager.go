package harness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"
)

// AlertmanagerOptions configures StartAlertmanager.
type AlertmanagerOptions struct {
	// WebhookURL receives every notification (Alertmanager's webhook payload,
	// send_resolved on). Empty means notifications go nowhere.
	WebhookURL string
	// WebhookCredentialsFile, when set, is sent as the webhook's bearer
	// token (http_config.authorization.credentials_file; Alertmanager reads
	// the file on every delivery).
	WebhookCredentialsFile string
	// GroupBy defaults to ["alertname"]; use []string{"..."} for one group
	// per alert.
	GroupBy []string
	// GroupWait defaults to 100ms, GroupInterval to 1s, RepeatInterval to 1h:
	// a new alert is delivered almost at once.
	GroupWait      time.Duration
	GroupInterval  time.Duration
	RepeatInterval time.Duration
	// ExtraFlags are appended to the command line.
	ExtraFlags []string
}

// Alertmanager is a running, non-clustered Alertmanager.
type Alertmanager struct {
	URL        string // http://127.0.0.1:<port>; alerts go to URL+"/api/v2/alerts"
	ConfigFile string
}

// StartAlertmanager starts an Alertmanager on a random loopback port with the
// cluster listener disabled and waits until /-/ready answers. It is stopped in
// t.Cleanup.
func StartAlertmanager(t T, opts AlertmanagerOptions) *Alertmanager {
	t.Helper()
	bin := RequireBinary(t, BinAlertmanager)
	dir := t.TempDir()
	mkdirs(t, dir, "data")
	cfgPath := filepath.Join(dir, "alertmanager.yml")
	writeFile(t, cfgPath, alertmanagerConfig(opts), 0o644)

	am := &Alertmanager{ConfigFile: cfgPath}
	start(t, func() spec {
		port := freePort(t)
		am.URL = "http://" + addr(port)
		return spec{
			name: "alertmanager",
			bin:  bin,
			dir:  dir,
			args: append([]string{
				"--config.file=" + cfgPath,
				"--storage.path=" + filepath.Join(dir, "data"),
				"--web.listen-address=" + addr(port),
				"--cluster.listen-address=", // no gossip, no peers
				"--log.level=info",
			}, opts.ExtraFlags...),
			timeout: 60 * time.Second,
			ready:   httpReady(readyClient, am.URL+"/-/ready", nil),
		}
	})
	return am
}

func alertmanagerConfig(o AlertmanagerOptions) string {
	groupBy := o.GroupBy
	if len(groupBy) == 0 {
		groupBy = []string{"alertname"}
	}
	quoted := make([]string, len(groupBy))
	for i, g := range groupBy {
		quoted[i] = fmt.Sprintf("%q", g)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "route:\n  receiver: harness\n  group_by: [%s]\n  group_wait: %s\n  group_interval: %s\n  repeat_interval: %s\n",
		strings.Join(quoted, ", "),
		promDur(durOr(o.GroupWait, 100*time.Millisecond)),
		promDur(durOr(o.GroupInterval, time.Second)),
		promDur(durOr(o.RepeatInterval, time.Hour)))
	b.WriteString("receivers:\n  - name: harness\n")
	if o.WebhookURL != "" {
		fmt.Fprintf(&b, "    webhook_configs:\n      - url: %q\n        send_resolved: true\n", o.WebhookURL)
		if o.WebhookCredentialsFile != "" {
			fmt.Fprintf(&b, "        http_config:\n          authorization:\n            type: Bearer\n            credentials_file: %q\n", o.WebhookCredentialsFile)
		}
	}
	return b.String()
}

// Post sends alerts (the JSON of Alertmanager's postableAlerts: a list of
// {labels, annotations, startsAt, endsAt, generatorURL}) to the
// Alertmanager's API, as Prometheus does, and fails t unless it answers 200.
func (am *Alertmanager) Post(t T, alerts any) {
	t.Helper()
	body, err := json.Marshal(alerts)
	if err != nil {
		t.Fatalf("post alerts: %v", err)
	}
	resp, err := http.Post(am.URL+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("post alerts: %v", err)
	}
	msg, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("posting alerts to Alertmanager: %s: %s", resp.Status, msg)
	}
}
