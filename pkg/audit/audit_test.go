package audit_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/audit"
	"github.com/meshwatch/meshwatch/pkg/audit/audittest"
)

func TestMemoryConformance(t *testing.T) {
	audittest.Run(t, audittest.Driver{
		Open: func(*testing.T) audit.Store { return audit.NewMemory() },
		Tamper: audittest.Tamper{
			Alter:  func(_ *testing.T, s audit.Store, seq int64, c string) { s.(*audit.Memory).Alter(seq, c) },
			Delete: func(_ *testing.T, s audit.Store, seq int64) { s.(*audit.Memory).Remove(seq) },
			Swap:   func(_ *testing.T, s audit.Store, a, b int64) { s.(*audit.Memory).Swap(a, b) },
		},
	})
}

func chain(n int) []audit.Entry {
	var out []audit.Entry
	var prev *audit.Entry
	for i := range n {
		e := audit.Seal(prev, audit.Entry{At: time.Date(2026, 1, 2, 3, 4, 5, i, time.UTC),
			Actor: audit.Actor{Login: "alice", Role: "Editor"}, Action: audit.Approve, Subject: "1:a:1", Incident: 1})
		out = append(out, e)
		prev = &out[len(out)-1]
	}
	return out
}

// The hash covers every field a reader relies on: changing any one of them
// breaks the entry.
func TestHashCoversEveryField(t *testing.T) {
	base := chain(1)[0]
	for name, change := range map[string]func(*audit.Entry){
		"at":       func(e *audit.Entry) { e.At = e.At.Add(time.Nanosecond) },
		"login":    func(e *audit.Entry) { e.Actor.Login = "mallory" },
		"name":     func(e *audit.Entry) { e.Actor.Name = "M" },
		"role":     func(e *audit.Entry) { e.Actor.Role = "Admin" },
		"action":   func(e *audit.Entry) { e.Action = audit.Reject },
		"subject":  func(e *audit.Entry) { e.Subject = "1:a:2" },
		"incident": func(e *audit.Entry) { e.Incident = 2 },
		"before":   func(e *audit.Entry) { e.Before = json.RawMessage(`{"a":1}`) },
		"after":    func(e *audit.Entry) { e.After = json.RawMessage(`{"a":1}`) },
		"comment":  func(e *audit.Entry) { e.Comment = "x" },
		"prev":     func(e *audit.Entry) { e.Prev = "00" },
		"seq":      func(e *audit.Entry) { e.Seq = 2 },
	} {
		e := base
		change(&e)
		if audit.HashOf(e) == base.Hash {
			t.Errorf("changing %s leaves the hash unchanged", name)
		}
	}
	// Insignificant JSON whitespace does not count.
	e := base
	e.After = json.RawMessage(`{"a": 1}`)
	f := base
	f.After = json.RawMessage(`{"a":1}`)
	if audit.HashOf(e) != audit.HashOf(f) {
		t.Error("the hash depends on JSON whitespace")
	}
}

func TestVerifyNamesTheBreak(t *testing.T) {
	if v := audit.Verify(nil); !v.OK || v.Entries != 0 {
		t.Errorf("empty chain: %+v", v)
	}
	c := chain(4)
	if v := audit.Verify(c); !v.OK || v.Head != c[3].Hash {
		t.Fatalf("intact chain: %+v", v)
	}
	// An altered entry re-hashed by the attacker: the next entry's link breaks.
	c[1].Comment = "edited"
	c[1].Hash = audit.HashOf(c[1])
	v := audit.Verify(c)
	if v.OK || v.Break.Seq != 3 || v.Break.Kind != "unlinked" || !strings.Contains(v.Break.Reason, "entry 3") {
		t.Errorf("re-hashed entry: %+v", v.Break)
	}
	// The newest entry deleted: the chain itself holds, the head tells.
	c = chain(4)
	if v := audit.Verify(c[:3]); !v.OK || v.Head == c[3].Hash {
		t.Errorf("truncated chain: %+v", v)
	}
}

func TestCSVExport(t *testing.T) {
	c := chain(2)
	c[0].Comment = "=HYPERLINK(\"http://evil\")"
	c[1].Comment = "fine, \"quoted\"\nand a second line"
	var b bytes.Buffer
	if err := audit.WriteCSV(&b, c); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatalf("the export is not CSV: %v", err)
	}
	if len(rows) != 3 || strings.Join(rows[0], ",") != strings.Join(audit.CSVHeader, ",") {
		t.Fatalf("rows: %q", rows)
	}
	if rows[1][8] != "'=HYPERLINK(\"http://evil\")" || rows[2][8] != c[1].Comment || rows[2][12] != c[1].Hash {
		t.Errorf("rows: %q", rows[1:])
	}
}

func TestJSONExportCarriesTheVerdict(t *testing.T) {
	var b bytes.Buffer
	if err := audit.WriteJSON(&b, chain(3), time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	var ex audit.Export
	if err := json.Unmarshal(b.Bytes(), &ex); err != nil {
		t.Fatal(err)
	}
	if !ex.Verdict.OK || len(ex.Entries) != 3 || !audit.Verify(ex.Entries).OK {
		t.Errorf("export: %+v", ex.Verdict)
	}
}
