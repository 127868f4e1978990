package store_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/otlogin/otlogin/store"
)

func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// In production: os.Getenv("SESSION_STORE"), e.g. "redis://:password@redis:6379/0"
	// or "postgres://app:password@db:5432/app?sslmode=verify-full".
	st, err := store.Open(ctx, "memory")
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	sessions := scs.New()
	sessions.Store = st
	sessions.Lifetime = 24 * time.Hour

	fmt.Println(st.Kind(), st.Limiter() == nil)
	// Output: memory true
}
