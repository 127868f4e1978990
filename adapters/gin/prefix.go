package ginotl

import (
	"reflect"

	"github.com/otlogin/otlogin"
)

// prefixOf returns the auth prefix. Temporary bridge until the core exports Auth.Prefix.
func prefixOf(auth *otlogin.Auth) string {
	return reflect.ValueOf(auth).Elem().FieldByName("prefix").String()
}
