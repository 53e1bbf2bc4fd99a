package harness

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// Each server runs in its own process group (so cleanup kills all of it) and
// gets SIGKILL when the test binary dies, even from SIGKILL or a timeout panic.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// Pdeathsig fires when the OS thread that forked the child exits, not the
// process; Go may end a thread (a goroutine that exits while locked to it), so
// all children are forked from one locked thread that lives as long as the
// test binary.
var (
	spawnOnce sync.Once
	spawnReq  = make(chan func())
)

func startCmd(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		go func() {
			runtime.LockOSThread()
			for f := range spawnReq {
				f()
			}
		}()
	})
	errc := make(chan error, 1)
	spawnReq <- func() { errc <- cmd.Start() }
	return <-errc
}

func terminate(cmd *exec.Cmd, kill bool) {
	if cmd.Process == nil {
		return
	}
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	_ = syscall.Kill(-cmd.Process.Pid, sig)
}
