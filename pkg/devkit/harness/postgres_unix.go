//go:build unix

package harness

import (
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
)

// postgresUser is who PostgreSQL runs as: the test's own user, or, when the
// tests run as root (PostgreSQL refuses to), Debian's "postgres" user (else
// "nobody"). ok is false when there is no such user.
func postgresUser() (uid, gid int, ok bool) {
	if os.Geteuid() != 0 {
		return os.Geteuid(), os.Getegid(), true
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 == nil && err2 == nil {
			return uid, gid, true
		}
	}
	return 0, 0, false
}

// runAs makes cmd run as uid:gid when that is not who we are.
func runAs(cmd *exec.Cmd, uid, gid int) {
	if uid == os.Geteuid() {
		return
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	// #nosec G115 -- ids from the user database
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}
}
