package contractfake

import (
	"encoding/json"
	"testing"

	"github.com/ollama/ollama/api"
)

// PanelEcho answers a prompt holding the panel fence from its first
// series, and hands any other prompt to the script it wraps.
func TestPanelEcho(t *testing.T) {
	other := func(api.ChatRequest, int) OllamaReply { return OllamaReply{Content: "write-up"} }
	echo := PanelEcho("<panel>", "</panel>", 0, other)
	user := "<panel>\n" + `{"panel":{"title":"Queue"},"queries":[{"datasource":"prometheus","expr":"q"}],` +
		`"series":[{"id":"s7","labels":{"__name__":"queue_depth","pod":"a"},"min":1,"max":9,"last":9,"trend":{"direction":"rising"}},{"id":"s8"}]}` +
		"\n</panel>\nExplain."
	r := echo(api.ChatRequest{Messages: []api.Message{{Role: "system", Content: "x"}, {Role: "user", Content: user}}}, 1)
	var a struct {
		Shows   string `json:"shows"`
		Notable []struct {
			Series []string `json:"series"`
		} `json:"notable"`
		NextQueries []struct {
			Datasource, Expr string
		} `json:"nextQueries"`
	}
	if err := json.Unmarshal([]byte(r.Content), &a); err != nil {
		t.Fatalf("%v: %s", err, r.Content)
	}
	if a.Shows == "" || len(a.Notable) != 1 || a.Notable[0].Series[0] != "s7" || len(a.NextQueries) != 1 ||
		a.NextQueries[0].Datasource != "prometheus" || a.NextQueries[0].Expr != "sum by (job) (queue_depth)" || r.ChunkBytes == 0 {
		t.Errorf("answer %s", r.Content)
	}
	if r := echo(api.ChatRequest{Messages: []api.Message{{Role: "user", Content: "<evidence>{}</evidence>"}}}, 1); r.Content != "write-up" {
		t.Errorf("a write-up prompt got %q", r.Content)
	}
}
