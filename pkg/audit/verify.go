package audit

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Verdict is the result of walking the chain.
type Verdict struct {
	OK bool `json:"ok"`
	// Entries is how many entries were walked; Head the last one's hash
	// (write it down: deleting the newest entries leaves a shorter chain
	// that is valid in itself, and only a known head shows it).
	Entries int    `json:"entries"`
	Head    string `json:"head"`
	// Break is where the chain breaks (nil when OK).
	Break *Break `json:"break,omitempty"`
}

// Break names the first entry where the chain does not hold.
type Break struct {
	// Position is the entry's place in the stored order (from 1); Seq the
	// sequence number it carries.
	Position int   `json:"position"`
	Seq      int64 `json:"seq"`
	// Kind is "altered" (the entry's content does not match its hash),
	// "unlinked" (its previous hash is not the entry before it: one was
	// deleted or the rows were reordered) or "gap" (its sequence number is
	// not the next one).
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
}

// Verify walks entries in stored order and says where the chain first
// breaks: an altered entry, a deleted one (the next entry's Prev or Seq no
// longer follows) or reordered ones.
func Verify(entries []Entry) Verdict {
	v := Verdict{OK: true, Entries: len(entries)}
	prev := ""
	for i, e := range entries {
		pos := i + 1
		switch {
		case HashOf(e) != e.Hash:
			v.Break = &Break{Position: pos, Seq: e.Seq, Kind: "altered",
				Reason: fmt.Sprintf("entry %d (%s %s by %s) was altered: its content does not match its hash", e.Seq, e.Action, e.Subject, e.Actor.Login)}
		case e.Prev != prev:
			v.Break = &Break{Position: pos, Seq: e.Seq, Kind: "unlinked",
				Reason: fmt.Sprintf("entry %d (%s %s by %s) does not follow the entry stored before it: an entry before it was deleted, altered and re-hashed, or the rows were reordered", e.Seq, e.Action, e.Subject, e.Actor.Login)}
		case e.Seq != int64(pos):
			v.Break = &Break{Position: pos, Seq: e.Seq, Kind: "gap",
				Reason: fmt.Sprintf("entry at position %d carries sequence number %d: entries are missing or were renumbered", pos, e.Seq)}
		}
		if v.Break != nil {
			v.OK = false
			return v
		}
		prev = e.Hash
	}
	v.Head = prev
	return v
}

// CSVHeader is the first row of a CSV export.
var CSVHeader = []string{"seq", "at", "login", "name", "role", "action", "subject", "incident", "comment", "before", "after", "prev", "hash"}

// WriteCSV writes entries as CSV (RFC 4180), one row per entry, JSON columns
// as JSON text.
func WriteCSV(w io.Writer, entries []Entry) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, e := range entries {
		inc := ""
		if e.Incident != 0 {
			inc = strconv.FormatInt(e.Incident, 10)
		}
		if err := cw.Write([]string{strconv.FormatInt(e.Seq, 10), e.At.UTC().Format(time.RFC3339Nano),
			e.Actor.Login, e.Actor.Name, e.Actor.Role, string(e.Action), e.Subject, inc, csvSafe(e.Comment),
			string(e.Before), string(e.After), e.Prev, e.Hash}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe keeps a spreadsheet from reading a comment as a formula (a
// leading =, +, - or @): it is prefixed with a quote. The JSON export keeps
// the comment as written.
func csvSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@') {
		return "'" + s
	}
	return s
}

// Export is the JSON export: the entries and the chain's verdict over them.
type Export struct {
	ExportedAt time.Time `json:"exportedAt"`
	Verdict    Verdict   `json:"verdict"`
	Entries    []Entry   `json:"entries"`
}

// WriteJSON writes the JSON export.
func WriteJSON(w io.Writer, entries []Entry, now time.Time) error {
	if entries == nil {
		entries = []Entry{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(Export{ExportedAt: now.UTC(), Verdict: Verify(entries), Entries: entries})
}
