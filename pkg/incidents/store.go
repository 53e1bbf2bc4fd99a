package incidents

import "github.com/meshwatch/meshwatch/pkg/incident"

// Store is the instance's open incident store, shared with the
// capabilities that keep their records beside the incidents (the
// write-ups); nil when it could not be opened (the routes say why).
func (s *Service) Store() incident.Store { return s.store }
