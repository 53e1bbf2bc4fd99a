package incident

import (
	"testing"
	"time"
)

// Two pods of one workload crash-looping fire in the same rule evaluation:
// same alertname, severity and startsAt, different descriptions. The
// incident's summary must not depend on the order a store hands the records
// back in (delivery order within a batch, fingerprint or first-seen order on
// the next load), or it flips on unrelated updates and two drivers disagree.
func TestTheLeadDoesNotDependOnRecordOrder(t *testing.T) {
	at := time.Date(2026, time.March, 14, 9, 26, 53, 0, time.UTC)
	pod := func(name string) Alert {
		a, err := Normalize(Alert{Status: StatusFiring, StartsAt: at, Source: SourceAlertmanager,
			Labels:      map[string]string{"alertname": "ContainerRestarting", "namespace": "shop", "deployment": "cart", "pod": name, "severity": "warning"},
			Annotations: map[string]string{"description": name + " restarted 4 times in 10 minutes"}})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	a, b := pod("cart-5b8f9c6d4-qk2lm"), pod("cart-5b8f9c6d4-h7k4p")
	key := Grouping{}.Of(a.Labels)

	var summaries []string
	for _, order := range [][]Alert{{a, b}, {b, a}} {
		out := Apply(Group{}, key, order, at, DefaultRules)
		if len(out.Changes) != 1 {
			t.Fatalf("%+v", out)
		}
		summaries = append(summaries, out.Changes[0].Incident.Summary)
		// The stored records, loaded back in either order, then an update
		// that does not touch them.
		c := out.Changes[0]
		for _, recs := range [][]Record{c.Records, {c.Records[1], c.Records[0]}} {
			inc := c.Incident
			other, _ := Normalize(Alert{Status: StatusFiring, StartsAt: at.Add(time.Minute), Source: SourceAlertmanager,
				Labels: map[string]string{"alertname": "KubeDeploymentReplicasMismatch", "namespace": "shop", "deployment": "cart", "severity": "info"}})
			next := Apply(Group{Incident: &inc, Records: recs}, key, []Alert{other}, at.Add(2*time.Minute), DefaultRules)
			summaries = append(summaries, next.Changes[0].Incident.Summary)
		}
	}
	for _, s := range summaries[1:] {
		if s != summaries[0] {
			t.Fatalf("the summary depends on record order: %q", summaries)
		}
	}
}
