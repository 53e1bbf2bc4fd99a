//go:build !linux

package harness

import (
	"os"
	"os/exec"
	"syscall"
)

// Outside Linux there is no parent-death signal; servers are stopped in
// t.Cleanup only.
func sysProcAttr() *syscall.SysProcAttr { return nil }

func startCmd(cmd *exec.Cmd) error { return cmd.Start() }

func terminate(cmd *exec.Cmd, kill bool) {
	if cmd.Process == nil {
		return
	}
	if kill {
		_ = cmd.Process.Kill()
		return
	}
	_ = cmd.Process.Signal(os.Interrupt)
}
