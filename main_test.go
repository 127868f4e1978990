package otlogin

import (
	"log"
	"log/slog"
	"os"
	"testing"
)

// TestMain keeps the suite quiet: an Auth without Config.Logger logs to slog.Default(), so
// the default logger discards here (package log still prints, to stderr as usual). Tests of
// the default itself replace it and restore it.
func TestMain(m *testing.M) {
	flags := log.Flags()
	slog.SetDefault(slog.New(slog.DiscardHandler))
	log.SetOutput(os.Stderr) // SetDefault pointed package log at the discard handler
	log.SetFlags(flags)
	os.Exit(m.Run())
}
