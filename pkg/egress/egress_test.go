package egress

import (
	"context"
	"errors"
	"net"
	"net/netip"
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
