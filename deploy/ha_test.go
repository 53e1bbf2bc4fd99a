package deploy_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/meshwatch/meshwatch/pkg/settings"
)

// haOverlay is Grafana in HA on PostgreSQL (issue 24).
const haOverlay = "overlays/ha"

// The HA overlay: two Grafana replicas that share nothing on disk, on one
// PostgreSQL holding Grafana's database and MeshWatch's; MeshWatch's
// settings choose the postgres store, and its DSN reaches secureJsonData
// from a Secret through the pod's environment, never as text in git.
func TestHAOverlay(t *testing.T) {
	objs := render(t, haOverlay)
	g := find(t, objs, "Deployment", "monitoring", "grafana")
	if n, _, _ := unstructured.NestedFieldNoCopy(g.Object, "spec", "replicas"); fmt.Sprint(n) != "2" {
		t.Errorf("grafana replicas %v, want 2", n)
	}
	if s, _, _ := unstructured.NestedString(g.Object, "spec", "strategy", "type"); s != "RollingUpdate" {
		t.Errorf("grafana strategy %q, want RollingUpdate (replicas replaced one at a time)", s)
	}
	spec, _ := podSpec(g)
	vols, _ := spec["volumes"].([]any)
	for _, v := range vols {
		if pvc, ok := v.(map[string]any)["persistentVolumeClaim"]; ok {
			t.Errorf("grafana mounts a PersistentVolumeClaim %v: replicas on several nodes cannot share a ReadWriteOnce volume", pvc)
		}
	}
	for _, o := range objs {
		if o.GetKind() == "PersistentVolumeClaim" && o.GetName() == "grafana-data" {
			t.Error("the grafana-data claim is still rendered")
		}
	}

	// Grafana's own database is the PostgreSQL the overlay runs.
	env := map[string]map[string]any{}
	for _, c := range containers(spec) {
		if c.name != "grafana" {
			continue
		}
		list, _ := c.m["env"].([]any)
		for _, e := range list {
			m := e.(map[string]any)
			env[m["name"].(string)] = m
		}
	}
	pgSvc := find(t, objs, "Service", "monitoring", "postgres")
	pgPort := servicePort(t, pgSvc, "postgres")
	if env["GF_DATABASE_TYPE"]["value"] != "postgres" || env["GF_DATABASE_HOST"]["value"] != fmt.Sprintf("postgres.monitoring.svc:%d", pgPort) {
		t.Errorf("Grafana's database: %v %v", env["GF_DATABASE_TYPE"], env["GF_DATABASE_HOST"])
	}
	find(t, objs, "StatefulSet", "monitoring", "postgres")

	// MeshWatch: storage.kind postgres, the DSN from the environment.
	var prov struct {
		Apps []struct {
			Type           string            `json:"type"`
			JSONData       json.RawMessage   `json:"jsonData"`
			SecureJSONData map[string]string `json:"secureJsonData"`
		} `json:"apps"`
	}
	raw := configMapFile(t, objs, "grafana-provisioning", "meshwatch-app.yaml")
	if err := yaml.Unmarshal([]byte(raw), &prov); err != nil || len(prov.Apps) != 1 {
		t.Fatalf("meshwatch-app.yaml: %v (%d apps)", err, len(prov.Apps))
	}
	app := prov.Apps[0]
	ref := regexp.MustCompile(`^\$\{?([A-Z_][A-Z0-9_]*)\}?$`).FindStringSubmatch(app.SecureJSONData[settings.SecureStorageDSN])
	if ref == nil {
		t.Fatalf("secureJsonData.%s is %q, want an environment variable reference", settings.SecureStorageDSN, app.SecureJSONData[settings.SecureStorageDSN])
	}
	dsnVar := env[ref[1]]
	if dsnVar == nil {
		t.Fatalf("the grafana container has no %s", ref[1])
	}
	dsn, _ := dsnVar["value"].(string)
	// The password comes from the Secret, by a variable defined before.
	m := regexp.MustCompile(`password=\$\(([A-Z_]+)\)`).FindStringSubmatch(dsn)
	if m == nil || env[m[1]] == nil || env[m[1]]["valueFrom"] == nil {
		t.Fatalf("the DSN %q does not take its password from a Secret-backed variable", dsn)
	}
	for _, want := range []string{"host=postgres.monitoring.svc", fmt.Sprintf("port=%d", pgPort), "dbname=meshwatch"} {
		if !strings.Contains(dsn, want) {
			t.Errorf("the DSN %q lacks %s", dsn, want)
		}
	}
	if !strings.Contains(configMapFile(t, objs, "postgres-init", "postgres-init.sh"), "CREATE DATABASE meshwatch") {
		t.Error("postgres-init.sh does not create MeshWatch's database")
	}
	s, err := settings.Load(app.JSONData, map[string]string{settings.SecureStorageDSN: strings.ReplaceAll(dsn, "$(MESHWATCH_PG_PASSWORD)", "0123abcd")})
	if err != nil {
		t.Fatalf("the HA jsonData does not load: %v", err)
	}
	if s.Storage.Kind != settings.StorePostgres {
		t.Errorf("storage.kind %q, want postgres", s.Storage.Kind)
	}
	if strings.Contains(raw, "password=") {
		t.Error("a password is in the provisioning file")
	}

	// Grafana's alerting gossips between the replicas through a headless
	// Service listing every Grafana pod, on 9094 TCP and UDP, outside the
	// outbound sidecar.
	peers := find(t, objs, "Service", "monitoring", "grafana-alerting")
	if ip, _, _ := unstructured.NestedString(peers.Object, "spec", "clusterIP"); ip != "None" {
		t.Errorf("grafana-alerting clusterIP %q, want None (headless: one address per replica)", ip)
	}
	sel, _, _ := unstructured.NestedStringMap(peers.Object, "spec", "selector")
	labels, _, _ := unstructured.NestedStringMap(g.Object, "spec", "template", "metadata", "labels")
	for k, v := range sel {
		if labels[k] != v {
			t.Errorf("grafana-alerting selects %s=%s, which Grafana's pods do not carry", k, v)
		}
	}
	ports, _, _ := unstructured.NestedSlice(peers.Object, "spec", "ports")
	protos := map[string]bool{}
	for _, p := range ports {
		m := p.(map[string]any)
		if fmt.Sprint(m["port"]) == "9094" {
			protos[fmt.Sprint(m["protocol"])] = true
		}
	}
	if !protos["TCP"] || !protos["UDP"] {
		t.Errorf("grafana-alerting ports %v, want 9094 over TCP and UDP", ports)
	}
	if v := env["GF_UNIFIED_ALERTING_HA_PEERS"]["value"]; v != "grafana-alerting.monitoring.svc:9094" {
		t.Errorf("GF_UNIFIED_ALERTING_HA_PEERS %v", v)
	}
	for _, k := range []string{"GF_UNIFIED_ALERTING_HA_LISTEN_ADDRESS", "GF_UNIFIED_ALERTING_HA_ADVERTISE_ADDRESS"} {
		if env[k]["value"] != "$(POD_IP):9094" {
			t.Errorf("%s %v, want the pod's own IP", k, env[k]["value"])
		}
	}
	if ref, _, _ := unstructured.NestedString(env["POD_IP"], "valueFrom", "fieldRef", "fieldPath"); ref != "status.podIP" {
		t.Errorf("POD_IP %v", env["POD_IP"])
	}
	ann, _, _ := unstructured.NestedStringMap(g.Object, "spec", "template", "metadata", "annotations")
	if !slices.Contains(strings.Split(ann["traffic.sidecar.istio.io/excludeOutboundPorts"], ","), "9094") {
		t.Errorf("the sidecar would wrap the gossip in mTLS to a replica that does not intercept inbound: annotations %v", ann)
	}
}
