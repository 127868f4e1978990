package transmittest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"unicode/utf8"
)

// kind is the JSON type a request field must have.
type kind int

const (
	kString kind = iota
	kNumber
	kBool
	kObject
	kArray
)

func (k kind) String() string {
	return [...]string{"a string", "a number", "a boolean", "an object", "an array"}[k]
}

// field describes one request field: its JSON type, whether it is required, a maximum length
// for strings (0 = none), allowed values (nil = any) and, for objects, required string members
// and the fields of the nested object (checked by the same rules, at any depth).
type field struct {
	name     string
	kind     kind
	required bool
	maxLen   int
	enum     []string
	members  []string
	nested   []field
}

// decodeObject parses body as a JSON object and checks fields. Unknown fields are allowed (the
// documents do not forbid them). The error message says what is wrong and never echoes values.
func decodeObject(r *http.Request, body []byte, fields []field) (map[string]any, error) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, errors.New("Content-Type must be application/json")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, errors.New("body must be a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("body must hold exactly one JSON object")
	}
	if err := checkFields(m, fields, ""); err != nil {
		return nil, err
	}
	return m, nil
}

// checkFields checks the members of one object; prefix names its place ("custom_sms_input.").
func checkFields(m map[string]any, fields []field, prefix string) error {
	for _, f := range fields {
		name := prefix + f.name
		v, ok := m[f.name]
		if !ok || v == nil {
			if f.required {
				return fmt.Errorf("%s should not be empty", name)
			}
			delete(m, f.name)
			continue
		}
		if !hasKind(v, f.kind) {
			return fmt.Errorf("%s must be %s", name, f.kind)
		}
		if s, ok := v.(string); ok {
			if f.required && s == "" {
				return fmt.Errorf("%s should not be empty", name)
			}
			if f.maxLen > 0 && utf8.RuneCountInString(s) > f.maxLen {
				return fmt.Errorf("%s must be shorter than or equal to %d characters", name, f.maxLen)
			}
			if f.enum != nil && !contains(f.enum, s) {
				return fmt.Errorf("%s must be one of the following values: %v", name, f.enum)
			}
		}
		if obj, ok := v.(map[string]any); ok {
			for _, mem := range f.members {
				if s, ok := obj[mem].(string); !ok || s == "" {
					return fmt.Errorf("%s.%s must be a string", name, mem)
				}
			}
			if err := checkFields(obj, f.nested, name+"."); err != nil {
				return err
			}
		}
	}
	return nil
}

func hasKind(v any, k kind) bool {
	switch v.(type) {
	case string:
		return k == kString
	case float64:
		return k == kNumber
	case bool:
		return k == kBool
	case map[string]any:
		return k == kObject
	case []any:
		return k == kArray
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func str(m map[string]any, name string) string {
	s, _ := m[name].(string)
	return s
}

func num(m map[string]any, name string) (float64, bool) {
	f, ok := m[name].(float64)
	return f, ok
}

// clientAttributesField is ClientAttributes, nested.
func clientAttributesField() field {
	return field{name: "client_attributes", kind: kObject, nested: []field{
		{name: "user_agent", kind: kString},
		{name: "ip_address", kind: kString},
	}}
}

// emailContentField is EmailContentAttributes, nested: subject required, the rest strings.
func emailContentField() field {
	nested := []field{{name: "subject", kind: kString, required: true}}
	for _, n := range []string{"primaryColor", "base64logo", "headerText", "bodyText", "linkText", "infoText", "footerText", "senderName"} {
		nested = append(nested, field{name: n, kind: kString})
	}
	return field{name: "email_content", kind: kObject, members: []string{"subject"}, nested: nested}
}

// commonAuthFields are the optional fields of both authenticate requests.
func commonAuthFields() []field {
	return []field{
		{name: "resource", kind: kString},
		{name: "claims", kind: kObject, nested: []field{{name: "id_token", kind: kObject}, {name: "access_token", kind: kObject}}},
		{name: "org_id", kind: kString},
		clientAttributesField(),
		{name: "device_id", kind: kString, maxLen: 80},
		{name: "session_id", kind: kString},
		{name: "request_id", kind: kString},
	}
}
