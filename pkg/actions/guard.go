package actions

import "strings"

// FromGuard turns the analysis guard's parsed command (pkg/analysis
// Action: its kind, namespace, name and, for a gate, the load tester path)
// into the executable action, or nil when the command is not one MeshWatch
// executes (a kubectl read stays a command for a person to run):
//
//	"rollout-restart" -> Restart of Deployment namespace/name
//	"flagger-gate"    -> Gate; "/gate/open" -> gate open, "/rollback/close" -> rollback close
//
// The result still goes through Check before it runs.
func FromGuard(kind, namespace, name, gatePath string) *Action {
	switch kind {
	case "rollout-restart":
		return &Action{Kind: Restart, Namespace: namespace, Name: name}
	case "flagger-gate":
		gate, op, ok := strings.Cut(strings.Trim(gatePath, "/"), "/")
		if !ok {
			return nil
		}
		return &Action{Kind: Gate, Namespace: namespace, Name: name, Gate: gate, Op: op}
	}
	return nil
}
