// Command nethttp is the otlogin example for net/http.
//
// Environment: ADDR (default 127.0.0.1:8080), PUBLIC_URL (default http://localhost:8080),
// TRANSMIT_CLIENT_ID, TRANSMIT_CLIENT_SECRET, TRANSMIT_BASE_URL (default the sandbox),
// SESSION_STORE (memory, redis://..., postgres://...). Without TRANSMIT_CLIENT_ID it runs
// against the embedded Mosaic emulator and shows sent links and codes at /dev/outbox.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app, cleanup, err := newApp(ctx, lookupEnv, os.Stdout)
	if err != nil {
		return err
	}
	defer cleanup()
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = defaultAddr
	}
	srv := &http.Server{Addr: addr, Handler: app, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	fmt.Printf("Listening on %s\n", addr)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func jsonEncode(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }
