package smtpd

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// errorLog passes go-smtp's own messages to our logger: a panic as an error, a connection that
// ended badly (reset, failed TLS handshake …) as information, the rest as a warning.
type errorLog struct{ l *slog.Logger }

func (e errorLog) Printf(format string, v ...any) { e.log(fmt.Sprintf(format, v...)) }
func (e errorLog) Println(v ...any)               { e.log(strings.TrimSuffix(fmt.Sprintln(v...), "\n")) }

func (e errorLog) log(msg string) {
	level := slog.LevelWarn
	switch {
	case strings.HasPrefix(msg, "panic"):
		level = slog.LevelError
	case strings.HasPrefix(msg, "error handling"):
		level = slog.LevelInfo
	}
	e.l.Log(context.Background(), level, "smtp server", "error", msg)
}
