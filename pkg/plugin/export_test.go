package plugin

import (
	"net"
	"testing"
	"time"
)

// ClosedURL is an http URL on loopback where nothing listens.
func ClosedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return "http://" + addr
}

// AlertRulesForTest is a Prometheus rule file with one alert that fires at
// once and one that stays pending for an hour; the stream tests here and the
// protocol test share it.
const AlertRulesForTest = `groups:
  - name: meshwatch-stream-test
    interval: 1s
    rules:
      - alert: CheckoutErrorBudgetBurn
        expr: vector(1)
        labels:
          namespace: shop
          workload: checkout
          severity: critical
        annotations:
          summary: checkout is burning its error budget
          dashboard_url: /d/meshwatch-workload?var-namespace=shop&var-workload=checkout
          runbook: https://runbooks.example/checkout
      - alert: CartLatencyRising
        expr: vector(1)
        for: 1h
        labels:
          namespace: shop
          workload: cart
          severity: warning
        annotations:
          summary: cart p99 latency is rising
`

// setAlertsTiming makes the instances built during the test poll the alerts
// every interval and re-send an unchanged frame every heartbeat (0: default).
func setAlertsTiming(t *testing.T, interval, heartbeat time.Duration) {
	t.Helper()
	oldI, oldH := alertsInterval, alertsHeartbeat
	alertsInterval, alertsHeartbeat = interval, heartbeat
	t.Cleanup(func() { alertsInterval, alertsHeartbeat = oldI, oldH })
}
