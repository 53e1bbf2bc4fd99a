//go:build !unix

package tools

import "os/exec"

// StopGroupOnCancel (made with exec.CommandContext) leaves cmd as it is: cancelling it kills the process itself.
func StopGroupOnCancel(*exec.Cmd) {}
