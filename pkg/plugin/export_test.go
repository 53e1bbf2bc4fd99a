package plugin

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
