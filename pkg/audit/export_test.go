package audit

func (m *Memory) Alter(seq int64, comment string) { m.alter(seq, comment) }
func (m *Memory) Remove(seq int64)                { m.remove(seq) }
func (m *Memory) Swap(a, b int64)                 { m.swap(a, b) }
