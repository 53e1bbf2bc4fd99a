package harness

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// T is what the harness needs from its caller: a *testing.T or *testing.B in
// tests, or a Session in programs that run the same servers outside `go test`
// (the preview host's --stack).
type T interface {
	Helper()
	Cleanup(func())
	Failed() bool
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Log(args ...any)
	Logf(format string, args ...any)
	Skipf(format string, args ...any)
	TempDir() string
}

// Session runs harness servers outside tests. Inside Do, a harness failure
// (or a missing binary, which a test would skip) ends the function and Do
// returns it as an error; Close stops every server in reverse start order
// and removes their directories.
type Session struct {
	mu       sync.Mutex
	dir      string
	cleanups []func()
	failed   bool
	logf     func(format string, args ...any)
}

// NewSession makes a session whose servers live under a new directory in
// os.TempDir(). logf receives the harness' progress lines (nil: dropped).
func NewSession(logf func(format string, args ...any)) (*Session, error) {
	dir, err := os.MkdirTemp("", "meshwatch-harness-")
	if err != nil {
		return nil, err
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &Session{dir: dir, logf: logf}, nil
}

// abort carries a Fatal or Skip out of the function given to Do.
type abort struct{ msg string }

// Do runs fn, which starts servers with s as its T. It returns the harness'
// failure message as an error when fn was aborted; the servers started so far
// keep running until Close.
func (s *Session) Do(fn func(t T)) (err error) {
	defer func() {
		if r := recover(); r != nil {
			a, ok := r.(abort)
			if !ok {
				panic(r)
			}
			err = errors.New(a.msg)
		}
	}()
	fn(s)
	return nil
}

// Close runs the cleanups (stopping the servers) and removes the directory.
func (s *Session) Close() error {
	s.mu.Lock()
	cs := s.cleanups
	s.cleanups = nil
	s.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
	return os.RemoveAll(s.dir)
}

// Dir is the directory under which the session's servers keep their data.
func (s *Session) Dir() string { return s.dir }

func (s *Session) Helper() {}

func (s *Session) Cleanup(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups = append(s.cleanups, f)
}

func (s *Session) Failed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

func (s *Session) fail(msg string) {
	s.mu.Lock()
	s.failed = true
	s.mu.Unlock()
	panic(abort{msg: msg})
}

func (s *Session) Fatal(args ...any)                 { s.fail(fmt.Sprint(args...)) }
func (s *Session) Fatalf(format string, args ...any) { s.fail(fmt.Sprintf(format, args...)) }
func (s *Session) Skipf(format string, args ...any)  { s.fail(fmt.Sprintf(format, args...)) }
func (s *Session) Log(args ...any)                   { s.logf("%s", fmt.Sprint(args...)) }
func (s *Session) Logf(format string, args ...any)   { s.logf(format, args...) }

// TempDir makes a new directory under the session's directory.
func (s *Session) TempDir() string {
	d, err := os.MkdirTemp(s.dir, "srv-")
	if err != nil {
		s.Fatalf("harness: temp dir: %v", err)
	}
	return filepath.Clean(d)
}
