package delivery

import (
	"context"
	"log/slog"
	"runtime"
	"time"
)

// taskLogger logs about one task: every line carries the task's
// delivery_id, endpoint_id, event_id, event_type and attempt, exactly as
// if logged through Logger.With(those), but without deriving a logger per
// delivery (a JSON or text handler formats With's attributes up front,
// whether or not anything is logged).
type taskLogger struct {
	l *slog.Logger
	t *Task
}

func (tl taskLogger) Debug(msg string, args ...any) { tl.log(slog.LevelDebug, msg, args) }
func (tl taskLogger) Info(msg string, args ...any)  { tl.log(slog.LevelInfo, msg, args) }
func (tl taskLogger) Warn(msg string, args ...any)  { tl.log(slog.LevelWarn, msg, args) }
func (tl taskLogger) Error(msg string, args ...any) { tl.log(slog.LevelError, msg, args) }

// log is what Logger.Info and friends do, with the task's attributes
// first; it must be called from the wrappers above (for the source line).
func (tl taskLogger) log(level slog.Level, msg string, args []any) {
	ctx := context.Background()
	h := tl.l.Handler()
	if !h.Enabled(ctx, level) {
		return
	}
	var pcs [1]uintptr
	runtime.Callers(3, pcs[:]) // skip Callers, log and the wrapper
	r := slog.NewRecord(time.Now(), level, msg, pcs[0])
	t := tl.t
	r.AddAttrs(slog.String("delivery_id", t.DeliveryID), slog.String("endpoint_id", t.EndpointID),
		slog.String("event_id", t.Event.ID), slog.String("event_type", t.Event.Type), slog.Int("attempt", t.Attempt))
	r.Add(args...)
	_ = h.Handle(ctx, r)
}
