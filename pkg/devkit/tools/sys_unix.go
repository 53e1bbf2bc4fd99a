//go:build unix

package tools

import (
	"os/exec"
	"syscall"
)

// StopGroupOnCancel runs cmd (made with exec.CommandContext) in a process
// group of its own, and makes cancelling it stop the whole group (a
// script's go builds, npm's webpack), not only the process itself.
func StopGroupOnCancel(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
}
