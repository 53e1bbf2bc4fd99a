package preview

// Limits lists, honestly, where the preview host differs from Grafana. The
// command prints it with --limits and the host page links to nothing that
// pretends otherwise.
var Limits = []string{
	"It is not Grafana: no login, no orgs, no teams, no RBAC beyond the three basic org roles; the role is a cookie anyone on the page can change.",
	"The host page renders the plugin with the real @grafana/data, @grafana/ui and @grafana/runtime packages of package.json (one Grafana version), not Grafana's own frontend: no mega-menu, search, command palette, alerting, Explore or dashboards (a link to /d/<uid> shows a labelled placeholder: the dashboard's title, the variables the link sets, its panels).",
	"The page chrome (PluginPage, nav, breadcrumbs) is a stand-in drawn with @grafana/ui; Grafana's real chrome differs in layout.",
	"/preview/panel is one stand-in timeseries panel with synthetic data, not a dashboard: its menu shows the links the plugin registers for grafana/dashboard/panel/menu, with Grafana's context shape, but no other panel features.",
	"Plugin streams use the preview host's own JSON-over-websocket protocol instead of Centrifuge; each subscription runs its own RunStream (Grafana shares one per channel); PublishStream is not offered.",
	"Resource responses are passed on whole after the plugin finishes (Grafana flushes each chunk as it comes).",
	"Only the request headers in forwardedHeaders reach the plugin (a subset of what Grafana passes); no X-Grafana-Id token.",
	"Service accounts are tokens only: --service-account-token values, the Viewer token --stack writes to a file, and, for a plugin.json that declares iam, a managed account (extsvc-<id>) whose token the plugin context carries as GF_PLUGIN_APP_CLIENT_SECRET, always (Grafana needs its externalServiceAccounts feature); the declared iam permissions are not checked, each account acts as its role.",
	"Secrets are kept decrypted in the settings file (mode 0600); Grafana encrypts them in its database.",
	"Provisioning is read once, when no settings file exists yet; Grafana re-applies provisioning at every start.",
	"Datasources are a fixed list (--stack's prometheus, loki, alertmanager and tempo, plus --datasource uid=type=url), read-only, with no auth of their own: /api/datasources, /api/datasources/uid/<uid> and the proxy /api/datasources/proxy/uid/<uid>/* (any signed-in role, or a known service-account token; Authorization and cookies are not forwarded) work, but no datasource plugin runs: getDataSourceSrv() lists their settings (DataSourcePicker works) and get() cannot query. No datasource permissions, no per-route proxy rules, no /api/ds/query, no datasource logos. Without datasources the panel stand-in keeps a placeholder Prometheus (uid preview-prometheus) that the API does not list.",
	"Icons come from @grafana/ui's npm package and the Unicons set (@iconify-json/uil); Grafana's own custom icons that no package ships (ai, drilldown, gf-*, ...) are drawn as a dashed placeholder. Fonts are Inter and Roboto Mono from npm.",
	"Only Grafana's shared modules that .config/bundler/externals.ts lists and npm provides are offered to module.js; angular is not (Grafana >= 12 dropped it).",
}
