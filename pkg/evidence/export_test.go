package evidence

import "time"

// SetPhaseTimer lets tests see each phase's duration.
func SetPhaseTimer(f func(phase string, d time.Duration)) { phaseTimer = f }
