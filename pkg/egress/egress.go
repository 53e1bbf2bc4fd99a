// Package egress keeps evidence inside the user's network: it classifies the
// address an outbound connection goes to (loopback, RFC 1918 private, tailnet,
// cluster-local, link-local, cloud metadata or external) and provides a
// dialer that refuses external and link-local addresses unless the admin
// explicitly allowed them, and cloud metadata services always.
//
// The check runs on the IP actually dialled, after DNS resolution and on
// every redirect, so a hostname that resolves to a public or metadata
// address is caught as well.
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
	ClusterLocal Class = "cluster-local name"
	// LinkLocal (169.254.0.0/16, fe80::/10) is not treated as internal: it
	// is where clouds put their instance services, and no LLM or telemetry
	// backend is meant to live there.
	LinkLocal Class = "link-local"
	// Metadata is a cloud instance metadata or credentials service
	// (169.254.169.254, fd00:ec2::254, 100.100.100.200, …). It hands out
	// the node's credentials, so it is refused even when the admin allows
	// external addresses.
	Metadata Class = "cloud metadata service"
	External Class = "external"
)

// Internal reports whether traffic to c stays inside the user's network.
// Link-local and metadata addresses are not internal.
func (c Class) Internal() bool { return c != External && c != LinkLocal && c != Metadata }

// Allowed reports whether the dialer lets a connection to c through:
// internal classes always, external and link-local ones only with
// allowExternal, metadata services never.
func (c Class) Allowed(allowExternal bool) bool {
	switch {
	case c == Metadata:
		return false
	case c.Internal():
		return true
	}
	return allowExternal
}

var (
	tailnet = netip.MustParsePrefix("100.64.0.0/10")
	tsULA   = netip.MustParsePrefix("fd7a:115c:a1e0::/48")
	// nat64 is the well-known NAT64 prefix (RFC 6052): 64:ff9b::a9fe:a9fe
	// reaches 169.254.169.254 through a NAT64 gateway.
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
)

// metadataAddrs are the cloud metadata and credentials services MeshWatch
// never connects to. Some sit inside ranges that are otherwise internal
// (fd00:ec2::254 in the ULA fc00::/7, 100.100.100.200 in 100.64.0.0/10).
var metadataAddrs = map[netip.Addr]bool{
	netip.MustParseAddr("169.254.169.254"): true, // AWS, GCP, Azure, OCI, DigitalOcean, OpenStack IMDS
	netip.MustParseAddr("fd00:ec2::254"):   true, // AWS IMDS over IPv6
	netip.MustParseAddr("169.254.170.2"):   true, // AWS ECS task credentials
	netip.MustParseAddr("169.254.170.23"):  true, // AWS EKS Pod Identity agent
	netip.MustParseAddr("fd00:ec2::23"):    true, // AWS EKS Pod Identity agent over IPv6
	netip.MustParseAddr("100.100.100.200"): true, // Alibaba Cloud metadata
	netip.MustParseAddr("168.63.129.16"):   true, // Azure WireServer
}

// metadataHosts are names of metadata services (checked without resolving).
var metadataHosts = map[string]bool{
	"metadata": true, "metadata.google.internal": true, "metadata.goog": true,
	"instance-data": true, "instance-data.ec2.internal": true,
}

// ClassifyIP tells where ip sits.
func ClassifyIP(ip netip.Addr) Class {
	ip = ip.Unmap().WithZone("")
	if nat64.Contains(ip) {
		b := ip.As16()
		if embedded := netip.AddrFrom4([4]byte(b[12:16])); metadataAddrs[embedded] {
			return Metadata
		}
	}
	switch {
	case metadataAddrs[ip]:
		return Metadata
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
// range, metadata service names (metadata.google.internal, …), "localhost",
// cluster-local service names (single-label names and *.svc,
// *.svc.cluster.local, *.cluster.local, *.internal, *.home.arpa) and
// Tailscale MagicDNS names (*.ts.net). Any other name is External until it
// is resolved; the dialer makes the final decision on the resolved address.
func ClassifyHost(host string) Class {
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if ip, err := netip.ParseAddr(host); err == nil {
		return ClassifyIP(ip)
	}
	switch {
	case metadataHosts[host]:
		return Metadata
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

// BlockedError is returned when a connection would leave the network or
// reach a cloud metadata service.
type BlockedError struct {
	Address string
	// Class is where Address sits; "" counts as External.
	Class Class
}

func (e *BlockedError) Error() string {
	switch e.Class {
	case Metadata:
		return fmt.Sprintf("egress blocked: %s is a cloud metadata service, which hands out the node's credentials; MeshWatch never connects to it, not even with allowExternal", e.Address)
	case LinkLocal:
		return fmt.Sprintf("egress blocked: %s is a link-local address; MeshWatch only sends evidence to loopback, private, tailnet or cluster-local addresses unless an admin sets allowExternal", e.Address)
	}
	return fmt.Sprintf("egress blocked: %s is an external address; MeshWatch only sends evidence to loopback, private, tailnet or cluster-local addresses unless an admin sets allowExternal", e.Address)
}

// Dialer returns a DialContext that refuses external and link-local IPs
// unless allowExternal, and cloud metadata services always. It checks the
// address actually dialled, so names and redirects cannot get around it.
func Dialer(allowExternal bool, timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: control(allowExternal)}
	return d.DialContext
}

// control is the Dialer's check, run on the resolved address just before
// connect.
func control(allowExternal bool) func(network, address string, c syscall.RawConn) error {
	return func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return &BlockedError{Address: address, Class: External}
		}
		if class := ClassifyIP(ap.Addr()); !class.Allowed(allowExternal) {
			return &BlockedError{Address: address, Class: class}
		}
		return nil
	}
}
