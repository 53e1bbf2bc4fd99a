// Package access is who is calling and what they may do. The shell puts the
// caller Grafana names in the plugin context (login, name, role; Grafana
// strips auth headers before the plugin sees a request) into each request's
// context; capabilities check roles from there, in the backend, whatever the
// UI shows or hides.
package access

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/meshwatch/meshwatch/pkg/httpjson"
)

// Role is a Grafana org role.
type Role string

// Grafana's org roles, from least to most privileged.
const (
	None   Role = "None"
	Viewer Role = "Viewer"
	Editor Role = "Editor"
	Admin  Role = "Admin"
)

func (r Role) rank() int {
	switch Role(strings.TrimSpace(string(r))) {
	case Admin:
		return 3
	case Editor:
		return 2
	case Viewer:
		return 1
	}
	return 0
}

// AtLeast reports whether r grants what min grants.
func (r Role) AtLeast(min Role) bool { return r.rank() >= min.rank() && r.rank() > 0 }

// User is the caller of one request.
type User struct {
	Login string
	Name  string
	Role  Role
}

type userKey struct{}

// WithUser returns ctx carrying u (nil: no signed-in user, as when Grafana's
// backend itself makes the call).
func WithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns the caller, or nil when the request has none.
func UserFrom(ctx context.Context) *User {
	u, _ := ctx.Value(userKey{}).(*User)
	return u
}

// Allowed reports whether u holds at least min.
func Allowed(u *User, min Role) bool { return u != nil && u.Role.AtLeast(min) }

// Require wraps h so that only callers with at least min reach it; the others
// get 401 (no user) or 403 in the resource API's error shape.
func Require(min Role, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u := UserFrom(r.Context())
		switch {
		case u == nil:
			httpjson.Error(w, http.StatusUnauthorized, "sign-in required",
				"this route answers only requests made by a signed-in Grafana user")
		case !u.Role.AtLeast(min):
			httpjson.Error(w, http.StatusForbidden, "permission denied",
				fmt.Sprintf("%s %s needs the %s role or higher; you are %s", r.Method, r.URL.Path, min, roleName(u.Role)))
		default:
			h(w, r)
		}
	}
}

func roleName(r Role) string {
	if r == "" {
		return "without an org role"
	}
	return string(r)
}
