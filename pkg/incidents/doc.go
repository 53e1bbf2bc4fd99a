// Package incidents is the incident capability: it takes alerts in from
// Alertmanager's webhook and Grafana-managed alerting's webhook contact
// point, reconciles with the active alerts of Alertmanager (or Prometheus)
// while the app instance lives, keeps every alert in the incident store, and
// serves the incidents to the Incidents page (routes and a Live channel).
//
// The pipeline's stages are incident.Normalize (intake), incident.Plan
// (group) and incident.Apply (lifecycle), all pure with the clock passed in;
// this package only moves data between senders, the store and the page.
//
// Lifecycle. The SDK builds an app instance on the first request that
// carries the plugin context (Grafana calls nothing on app plugins at boot),
// rebuilds it on every settings save and may evict idle ones. So the first
// webhook delivery brings the instance up; Register opens the store and
// starts the reconcile loop; Dispose stops the loop and releases the store.
// The loop and the store are held per database path for the whole process:
// a rebuilt instance takes the loop over from the one it replaces (which
// stops before the new one starts) and shares its open store, so a rebuild
// never leaves two loops or two connection pools on one file.
package incidents
