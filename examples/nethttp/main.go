// Command nethttp is the otlogin example for net/http.
//
// Environment: ADDR (default 127.0.0.1:8080), PUBLIC_URL (default http://localhost on ADDR's port),
// TRANSMIT_CLIENT_ID, TRANSMIT_CLIENT_SECRET, TRANSMIT_BASE_URL (default the sandbox),
// SESSION_STORE (memory, redis://..., postgres://...). Without TRANSMIT_CLIENT_ID it runs
// against the embedded Mosaic emulator and shows sent links and codes at /dev/outbox.
package main

import "github.com/otlogin/otlogin/examples/internal/exampleapp"

func main() { exampleapp.Main(newRouter) }
