package exampleapp

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/otlogin/otlogin/transmit"
)

func TestFromEnv(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		vars map[string]string
		want Env
	}{
		{"defaults", nil, Env{Addr: "127.0.0.1:8080", PublicURL: "http://localhost:8080",
			BaseURL: transmit.SandboxBaseURL, SessionStore: "memory"}},
		{"everything set", map[string]string{"ADDR": ":9000", "PUBLIC_URL": "https://app.example.com/",
			"TRANSMIT_CLIENT_ID": "id", "TRANSMIT_CLIENT_SECRET": "secret", "TRANSMIT_BASE_URL": "https://mosaic.example/cis",
			"SESSION_STORE": "redis://127.0.0.1:6379/0"},
			Env{Addr: ":9000", PublicURL: "https://app.example.com", ClientID: "id", ClientSecret: "secret",
				BaseURL: "https://mosaic.example/cis", SessionStore: "redis://127.0.0.1:6379/0"}},
		{"blank means default", map[string]string{"ADDR": "  ", "SESSION_STORE": ""}, Env{Addr: "127.0.0.1:8080",
			PublicURL: "http://localhost:8080", BaseURL: transmit.SandboxBaseURL, SessionStore: "memory"}},
		{"public URL from ADDR's port", map[string]string{"ADDR": "127.0.0.1:8092"}, Env{Addr: "127.0.0.1:8092",
			PublicURL: "http://localhost:8092", BaseURL: transmit.SandboxBaseURL, SessionStore: "memory"}},
		{"public URL from a port-only ADDR", map[string]string{"ADDR": ":9000"}, Env{Addr: ":9000",
			PublicURL: "http://localhost:9000", BaseURL: transmit.SandboxBaseURL, SessionStore: "memory"}},
		{"ADDR without a port", map[string]string{"ADDR": "localhost"}, Env{Addr: "localhost",
			PublicURL: "http://localhost:8080", BaseURL: transmit.SandboxBaseURL, SessionStore: "memory"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, FromEnv(func(k string) string { return tc.vars[k] }))
		})
	}
}
