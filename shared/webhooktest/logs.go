package webhooktest

import (
	"strings"
	"sync"
)

// Logs is where a test's logger writes (slog.NewJSONHandler(&logs, nil)):
// safe for concurrent use, it keeps everything written for the test to
// read back.
type Logs struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
