package preview

import (
	"net/http"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// Role is a Grafana org role.
type Role string

// The org roles the host page offers.
const (
	Viewer Role = "Viewer"
	Editor Role = "Editor"
	Admin  Role = "Admin"
)

// RoleCookie holds the role chosen on the host page; RoleHeader overrides it
// for scripted clients (API tests). Neither is forwarded to the plugin.
const (
	RoleCookie  = "meshwatch_preview_role"
	ThemeCookie = "meshwatch_preview_theme"
	RoleHeader  = "X-Preview-Role"
)

// user is the signed-in user of one role.
type user struct {
	ID    int64
	Login string
	Name  string
	Email string
	Role  Role
}

var users = map[Role]user{
	Viewer: {ID: 3, Login: "viewer", Name: "Vera Viewer", Email: "viewer@preview.invalid", Role: Viewer},
	Editor: {ID: 2, Login: "editor", Name: "Eddie Editor", Email: "editor@preview.invalid", Role: Editor},
	Admin:  {ID: 1, Login: "admin", Name: "Ada Admin", Email: "admin@preview.invalid", Role: Admin},
}

// parseRole accepts a role name in any case; ok is false for anything else.
func parseRole(s string) (Role, bool) {
	for _, r := range []Role{Viewer, Editor, Admin} {
		if strings.EqualFold(strings.TrimSpace(s), string(r)) {
			return r, true
		}
	}
	return "", false
}

// userOf returns the user a request is signed in as: the X-Preview-Role
// header, else the role cookie, else defaultRole (Grafana's dev setup signs
// everyone in as an anonymous Admin).
func userOf(r *http.Request, defaultRole Role) user {
	if role, ok := parseRole(r.Header.Get(RoleHeader)); ok {
		return users[role]
	}
	if c, err := r.Cookie(RoleCookie); err == nil {
		if role, ok := parseRole(c.Value); ok {
			return users[role]
		}
	}
	return users[defaultRole]
}

// atLeast reports whether role r includes role min (Viewer < Editor < Admin).
func (r Role) atLeast(min Role) bool {
	rank := map[Role]int{Viewer: 1, Editor: 2, Admin: 3}
	return rank[r] >= rank[min]
}

func (u user) backendUser() *backend.User {
	return &backend.User{Login: u.Login, Name: u.Name, Email: u.Email, Role: string(u.Role)}
}

// themeOf returns "light" or "dark" from the theme cookie (dark by default,
// as Grafana).
func themeOf(r *http.Request) string {
	if c, err := r.Cookie(ThemeCookie); err == nil && c.Value == "light" {
		return "light"
	}
	return "dark"
}
