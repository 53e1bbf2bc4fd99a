// Package preview is the MeshWatch preview host: a small web server that lets
// a person (or a browser test) see the plugin's pages as a user does, on the
// plugin's real backend, without Grafana.
//
// It is not Grafana and says so on every page. It serves the built plugin
// (dist/) exactly as shipped, starts the built backend binary the way Grafana
// does (go-plugin handshake, pluginv2 gRPC, a Grafana-style environment) via
// pkg/pluginhost, and answers the handful of Grafana HTTP APIs the plugin's
// frontend calls, shaped like Grafana's:
//
//	/api/plugins/<id>/resources/*   CallResource with a PluginContext (user, org role, app settings), for a
//	                                browser session or a service-account token (the plugin sees the account)
//	/api/plugins/<id>/settings      GET (jsonData, secureJsonFields as booleans) and POST (Admin only)
//	/api/plugins/<id>/health        CheckHealth: 200 {status:"OK",...} or 503 {status:"ERROR",...}
//	/api/live/ws                    plugin streams (SubscribeStream + RunStream) over a websocket
//	/api/datasources, /api/datasources/uid/<uid>   the datasources it plays (--stack's, --datasource)
//	/api/datasources/proxy/uid/<uid>/*   Grafana's datasource proxy: reverse proxy to the datasource's URL
//	                                for a browser session or Authorization: Bearer <service-account token>
//	/public/plugins/<id>/*          the files of dist/
//	/, /a/<id>/*, /plugins/<id>, /preview/panel   the host page (tests/preview/host, built)
//
// The signed-in user is chosen on the host page (Viewer, Editor or Admin) and
// travels in a cookie; the server turns it into the PluginContext user the way
// Grafana does for its session. Scripted callers (the plugin backend going
// through the datasource proxy, Alertmanager posting its webhook to a
// resource route) use a service-account token instead:
// --service-account-token name=role=token, or with --stack a generated Viewer
// token written to a file (its path is printed). The plugin context carries
// GF_APP_URL, the host's own address, as Grafana's does, so that the backend
// can build <appURL>/api/datasources/proxy/uid/<uid>, and, when plugin.json
// declares iam, the token of the plugin's managed service account
// (GF_PLUGIN_APP_CLIENT_SECRET), which the proxy accepts. What differs from Grafana is listed in
// limits.go.
package preview
