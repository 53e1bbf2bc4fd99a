// Package egress keeps evidence inside the user's network: it classifies the
// address an outbound connection goes to (loopback, RFC 1918 private, tailnet,
// cluster-local or external) and provides a dialer that refuses external
// addresses unless the admin explicitly allowed them.
//
// The check runs on the IP actually dialled, after DNS resolution, so a
// hostname that resolves to a public address is caught as well.
package egress

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// Class names where an address sits.
type Class string

// Address classes, from most to least local.
const (
	Loopback     Class = "loopback"
	Private      Class = "private (RFC 1918 / ULA)"
	Tailnet      Class = "tailnet (100.64.0.0/10)"
	LinkLocal    Class = "link-local"
	ClusterLocal Class = "cluster-local name"
	External     Class = "external"
)

// Internal reports whether traffic to c stays inside the user's network.
func (c Class) Internal() bool { return c != External }

var (
	tailnet = netip.MustParsePrefix("100.64.0.0/10")
	tsULA   = netip.MustParsePrefix("fd7a:115c:a1e0::/48")
)

// ClassifyIP tells where ip sits.
func ClassifyIP(ip netip.Addr) Class {
	ip = ip.Unmap()
	switch {
	case ip.IsLoopback():
		return Loopback
	case tailnet.Contains(ip) || tsULA.Contains(ip):
		return Tailnet
	case ip.IsPrivate():
		return Private
	case ip.IsLinkLocalUnicast():
		return LinkLocal
	}
	return External
}

// ClassifyHost classifies a URL host without resolving it: literal IPs by
// range, "localhost", cluster-local service names (single-label names and
// *.svc, *.svc.cluster.local, *.cluster.local) and Tailscale MagicDNS names
// (*.ts.net). Any other name is External until it is resolved; the dialer
// makes the final decision on the resolved address.
func ClassifyHost(host string) Class {
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if ip, err := netip.ParseAddr(host); err == nil {
		return ClassifyIP(ip)
	}
	switch {
	case host == "localhost" || strings.HasSuffix(host, ".localhost"):
		return Loopback
	case !strings.Contains(host, "."),
		strings.HasSuffix(host, ".svc"),
		strings.HasSuffix(host, ".cluster.local"),
		strings.HasSuffix(host, ".internal"),
		strings.HasSuffix(host, ".home.arpa"):
		return ClusterLocal
	case strings.HasSuffix(host, ".ts.net"):
		return Tailnet
	}
	return External
}

// BlockedError is returned when a connection would leave the network.
type BlockedError struct {
	Address string
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("egress blocked: %s is an external address; MeshWatch only sends evidence to loopback, private, tailnet or cluster-local addresses unless an admin sets allowExternal", e.Address)
}

// Dialer returns a DialContext that refuses external IPs unless allowExternal.
func Dialer(allowExternal bool, timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if !allowExternal {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return &BlockedError{Address: address}
			}
			if !ClassifyIP(ap.Addr()).Internal() {
				return &BlockedError{Address: address}
			}
			return nil
		}
	}
	return d.DialContext
}
