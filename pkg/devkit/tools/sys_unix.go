//go:build unix

package tools

import (
	"os/exec"
	"syscall"
)

// inGroup runs cmd in a process group of its own, and makes cancelling it
// stop the whole group (the script's go builds too), not only the shell.
func inGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
}
