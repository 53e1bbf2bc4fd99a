package canaries

import (
	"encoding/json"

	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// Frame turns canaries into the "canaries" frame, one row per canary in the
// given order, with a meta object (so that a later frame without notices
// clears an earlier error notice in Live's merged frame).
func Frame(list []Canary) *data.Frame {
	n := len(list)
	ns, name, phase := make([]string, n), make([]string, n), make([]string, n)
	weight := make([]int64, n)
	waiting := make([]bool, n)
	raw := make([]json.RawMessage, n)
	for i, c := range list {
		ns[i], name[i], phase[i], weight[i], waiting[i] = c.Namespace, c.Name, c.Phase, int64(c.Weight), c.AwaitingDecision
		b, err := json.Marshal(c)
		if err != nil { // the model holds only plain values
			b = []byte("null")
		}
		raw[i] = b
	}
	f := data.NewFrame(FrameName,
		data.NewField(FieldNamespace, nil, ns),
		data.NewField(FieldName, nil, name),
		data.NewField(FieldPhase, nil, phase),
		data.NewField(FieldWeight, nil, weight),
		data.NewField(FieldAwaitingDecision, nil, waiting),
		data.NewField(FieldCanary, nil, raw),
	)
	f.Meta = &data.FrameMeta{}
	return f
}
