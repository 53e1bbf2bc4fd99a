package settings

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestStorageKind(t *testing.T) {
	const dsn = "postgres://meshwatch:s3cr3t-pw@db.example:5432/meshwatch"
	fields := func(err error) map[string]string {
		out := map[string]string{}
		if es, ok := err.(Errors); ok {
			for _, e := range es {
				out[e.Field] = e.Message
			}
		}
		return out
	}

	s, err := Load([]byte(`{}`), nil)
	if err != nil || s.Storage.Kind != StoreSQLite {
		t.Fatalf("default: kind %q, %v", s.Storage.Kind, err)
	}

	_, err = Load([]byte(`{"storage":{"kind":"postgres"}}`), nil)
	if msg := fields(err)["storage dsn"]; !strings.Contains(msg, SecureStorageDSN) {
		t.Fatalf("postgres without a DSN: want a storage dsn error naming %s, got %v", SecureStorageDSN, err)
	}

	_, err = Load([]byte(`{"storage":{"kind":"mysql"}}`), nil)
	if _, ok := fields(err)["storage.kind"]; !ok {
		t.Fatalf("unknown kind: want a storage.kind error, got %v", err)
	}

	_, err = Load([]byte(`{"storage":{"kind":"postgres"}}`), map[string]string{SecureStorageDSN: "postgres://mw:s3cr3t\x01@db/mw"})
	if msg := fields(err)["storage dsn"]; msg == "" || strings.Contains(msg, "s3cr3t") {
		t.Fatalf("a DSN with a control character: want an error that does not repeat it, got %q", msg)
	}
	// The config page validates a configured DSN it cannot read back with a
	// placeholder: that is no error.
	if _, err = Load([]byte(`{"storage":{"kind":"postgres"}}`), map[string]string{SecureStorageDSN: "configured"}); err != nil {
		t.Fatalf("a configured DSN: %v", err)
	}

	s, err = Load([]byte(`{"storage":{"kind":"postgres","path":"relative/ignored.db"}}`), map[string]string{SecureStorageDSN: " " + dsn + "\n"})
	if err != nil {
		t.Fatalf("postgres with a DSN (the SQLite path is not used): %v", err)
	}
	if s.Storage.DSN() != dsn {
		t.Fatalf("DSN() = %q", s.Storage.DSN())
	}
	pub, _ := json.Marshal(s.Public())
	if strings.Contains(string(pub), "s3cr3t") || !strings.Contains(string(pub), `"storageDSN":true`) || !strings.Contains(string(pub), `"kind":"postgres"`) {
		t.Fatalf("public settings: %s", pub)
	}

	if _, err := Load([]byte(`{"storage":{"storageDSN":"`+dsn+`"}}`), nil); err == nil ||
		!strings.Contains(err.Error(), "secureJsonData") || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("a DSN in jsonData: want the secureJsonData hint without the value, got %v", err)
	}
}
