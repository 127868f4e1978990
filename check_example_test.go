package otlogin_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/otlogin/otlogin"
	"github.com/otlogin/otlogin/transmit"
	"github.com/otlogin/otlogin/transmit/transmittest"
)

// Check at start-up names a wrong client secret before any user meets it.
func ExampleAuth_Check() {
	mosaic := transmittest.NewServer(transmittest.Options{})
	defer mosaic.Close()
	client, _ := transmit.New(transmit.Config{
		BaseURL: mosaic.BaseURL(), ClientID: mosaic.ClientID, ClientSecret: "not-the-secret",
	})
	auth, _ := otlogin.New(otlogin.Config{Client: client, PublicURL: "http://localhost:8080"})

	err := auth.Check(context.Background())
	var ce *otlogin.CheckError
	if errors.As(err, &ce) {
		fmt.Println("step:", ce.Step)
		fmt.Println("refused:", errors.Is(err, transmit.ErrUnauthorized))
	}
	// Output:
	// step: client token
	// refused: true
}
