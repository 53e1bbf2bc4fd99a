package egress

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	cases := map[string]Class{
		"127.0.0.1": Loopback, "::1": Loopback, "localhost": Loopback,
		"10.1.2.3": Private, "172.16.0.1": Private, "192.168.1.20": Private, "fd00::1": Private,
		"100.64.0.1": Tailnet, "100.127.255.254": Tailnet, "fd7a:115c:a1e0::1": Tailnet, "gpu-box.tail1234.ts.net": Tailnet,
		"ollama": ClusterLocal, "ollama.monitoring.svc": ClusterLocal, "ollama.monitoring.svc.cluster.local": ClusterLocal,
		"169.254.1.1": LinkLocal,
		"8.8.8.8":     External, "100.128.0.1": External, "api.openai.com": External, "172.32.0.1": External,
	}
	for host, want := range cases {
		if got := ClassifyHost(host); got != want {
			t.Errorf("%s: got %s, want %s", host, got, want)
		}
	}
	if ClassifyIP(netip.MustParseAddr("::ffff:10.0.0.1")) != Private {
		t.Error("IPv4-mapped private address must be private")
	}
}

func TestDialerRefusesExternalUnlessAllowed(t *testing.T) {
	// 192.0.2.0/24 is TEST-NET-1: external by class, and never dialled for
	// real because the Control hook refuses before connect.
	dial := Dialer(false, time.Second)
	_, err := dial(context.Background(), "tcp", "192.0.2.10:11434")
	var blocked *BlockedError
	if !errors.As(err, &blocked) {
		t.Fatalf("external dial must be blocked, got %v", err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			_ = c.Close()
		}
	}()
	c, err := dial(context.Background(), "tcp", l.Addr().String())
	if err != nil {
		t.Fatalf("loopback dial must pass: %v", err)
	}
	_ = c.Close()
}

func TestLinkLocalAndMetadataAreNotInternal(t *testing.T) {
	cases := map[string]Class{
		"169.254.169.254": Metadata, "fd00:ec2::254": Metadata, "100.100.100.200": Metadata,
		"169.254.170.2": Metadata, "168.63.129.16": Metadata, "::ffff:169.254.169.254": Metadata,
		"64:ff9b::a9fe:a9fe": Metadata, "64:ff9b::808:808": External,
		"metadata.google.internal": Metadata, "METADATA.GOOGLE.INTERNAL.": Metadata, "metadata": Metadata,
		"169.254.0.1": LinkLocal, "fe80::1": LinkLocal, "fe80::1%eth0": LinkLocal, "febf::1": LinkLocal,
		"fd00:ec2::1": Private, "100.100.100.201": Tailnet, "db.corp.internal": ClusterLocal,
	}
	for host, want := range cases {
		got := ClassifyHost(host)
		if got != want {
			t.Errorf("%s: got %s, want %s", host, got, want)
		}
		if got.Internal() {
			if want == Metadata || want == LinkLocal {
				t.Errorf("%s: %s must not be internal", host, got)
			}
		}
	}
	for _, c := range []Class{Loopback, Private, Tailnet, ClusterLocal} {
		if !c.Internal() || !c.Allowed(false) || !c.Allowed(true) {
			t.Errorf("%s must be internal and allowed", c)
		}
	}
	for _, c := range []Class{External, LinkLocal} {
		if c.Internal() || c.Allowed(false) || !c.Allowed(true) {
			t.Errorf("%s: only allowExternal lets it through", c)
		}
	}
	if Metadata.Internal() || Metadata.Allowed(false) || Metadata.Allowed(true) {
		t.Error("metadata services are never allowed")
	}
}

// The Dialer's check on crafted resolved addresses, with and without
// allowExternal.
func TestControlRefusesLinkLocalAndMetadata(t *testing.T) {
	cases := []struct {
		addr          string
		class         Class
		allowedIfExt  bool
		allowedIfSafe bool
	}{
		{"169.254.169.254:80", Metadata, false, false},
		{"[::ffff:169.254.169.254]:80", Metadata, false, false},
		{"[fd00:ec2::254]:80", Metadata, false, false},
		{"100.100.100.200:80", Metadata, false, false},
		{"169.254.170.2:80", Metadata, false, false},
		{"[64:ff9b::a9fe:a9fe]:80", Metadata, false, false},
		{"169.254.10.10:11434", LinkLocal, true, false},
		{"[fe80::1%eth0]:11434", LinkLocal, true, false},
		{"[fe80::1]:11434", LinkLocal, true, false},
		{"8.8.8.8:443", External, true, false},
		{"not-an-address", External, false, false},
		{"10.0.0.5:11434", "", true, true},
		{"100.64.0.1:11434", "", true, true},
		{"[fd00::1]:11434", "", true, true},
		{"127.0.0.1:11434", "", true, true},
	}
	for _, c := range cases {
		for _, allow := range []bool{false, true} {
			err := control(allow)("tcp", c.addr, nil)
			want := c.allowedIfSafe
			if allow {
				want = c.allowedIfExt
			}
			if (err == nil) != want {
				t.Errorf("%s allowExternal=%v: err %v, want allowed=%v", c.addr, allow, err, want)
				continue
			}
			var blocked *BlockedError
			if err != nil && (!errors.As(err, &blocked) || blocked.Class != c.class) {
				t.Errorf("%s: %#v, want class %s", c.addr, err, c.class)
			}
		}
	}
	msg := (&BlockedError{Address: "169.254.169.254:80", Class: Metadata}).Error()
	if !strings.Contains(msg, "metadata") || !strings.Contains(msg, "not even with allowExternal") {
		t.Errorf("metadata message: %s", msg)
	}
}

// The real dialer refuses before connecting (it cannot hang on an
// unreachable metadata address).
func TestDialerRefusesMetadataEvenWhenExternalIsAllowed(t *testing.T) {
	for _, allow := range []bool{false, true} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		for _, addr := range []string{"169.254.169.254:80", "[fd00:ec2::254]:80", "100.100.100.200:80"} {
			_, err := Dialer(allow, 500*time.Millisecond)(ctx, "tcp", addr)
			var blocked *BlockedError
			if !errors.As(err, &blocked) || blocked.Class != Metadata {
				t.Errorf("%s allowExternal=%v: want a metadata BlockedError, got %v", addr, allow, err)
			}
		}
		_, err := Dialer(allow, 500*time.Millisecond)(ctx, "tcp", "169.254.1.1:80")
		var blocked *BlockedError
		if !allow && !errors.As(err, &blocked) {
			t.Errorf("link-local dial must be blocked, got %v", err)
		}
		cancel()
	}
}

// An allowed (loopback) server that redirects to the metadata service or a
// link-local address does not get the request through: the redirect's dial
// is checked like the first one.
func TestRedirectToMetadataIsRefused(t *testing.T) {
	for _, target := range []string{
		"http://169.254.169.254/latest/meta-data/iam/security-credentials/",
		"http://[fd00:ec2::254]/latest/api/token",
		"http://[fe80::1]:11434/api/version",
		"http://169.254.10.10:11434/api/version",
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target, http.StatusFound)
		}))
		for _, allow := range []bool{false, true} {
			if allow && !strings.Contains(target, "169.254.169.254") && !strings.Contains(target, "ec2::254") {
				continue // link-local is the admin's call with allowExternal
			}
			client := &http.Client{
				Timeout:   3 * time.Second,
				Transport: &http.Transport{DialContext: Dialer(allow, 500*time.Millisecond), Proxy: nil},
			}
			resp, err := client.Get(srv.URL + "/api/version")
			if err == nil {
				_ = resp.Body.Close()
				t.Errorf("redirect to %s allowExternal=%v: got through (HTTP %d)", target, allow, resp.StatusCode)
				continue
			}
			var blocked *BlockedError
			if !errors.As(err, &blocked) {
				t.Errorf("redirect to %s allowExternal=%v: want BlockedError, got %v", target, allow, err)
			}
			client.CloseIdleConnections()
		}
		srv.Close()
	}
}
