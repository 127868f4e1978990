package wire

import (
	"encoding/binary"
	"errors"
	"testing"
)

var errBad = errors.New("bad")

func TestRoundTrip(t *testing.T) {
	var b []byte
	b = append(b, 7)
	b = binary.AppendUvarint(b, 300)
	b = binary.AppendVarint(b, -5)
	b = AppendBytes(b, "hello")
	b = AppendBytes(b, []byte{})
	b = append(b, 1, 2, 3, 4, 5, 6, 7, 8)

	r := NewReader(b, 0, errBad)
	if got := r.Byte(); got != 7 {
		t.Fatalf("Byte = %d, want 7", got)
	}
	if got := r.Uvarint(); got != 300 {
		t.Fatalf("Uvarint = %d, want 300", got)
	}
	if got := r.Varint(); got != -5 {
		t.Fatalf("Varint = %d, want -5", got)
	}
	if got := r.Str(); got != "hello" {
		t.Fatalf("Str = %q, want hello", got)
	}
	if s, e := r.Span(); s != e {
		t.Fatalf("empty Span = %d..%d", s, e)
	}
	if s, e := r.Fixed(8); e-s != 8 || b[s] != 1 {
		t.Fatalf("Fixed(8) = %d..%d", s, e)
	}
	if r.Err != nil || r.Remaining() != 0 {
		t.Fatalf("Err = %v, Remaining = %d", r.Err, r.Remaining())
	}
}

func TestMalformedSticks(t *testing.T) {
	for name, in := range map[string][]byte{
		"empty":             nil,
		"length past end":   {5, 'a'},
		"unfinished varint": {0x80},
	} {
		r := NewReader(in, 0, errBad)
		r.Span()
		if !errors.Is(r.Err, errBad) {
			t.Errorf("%s: Err = %v, want the malformed error", name, r.Err)
		}
		// Later reads return zero values and keep the first error.
		if r.Uvarint() != 0 || r.Varint() != 0 || r.Byte() != 0 || r.Str() != "" {
			t.Errorf("%s: reads after an error return values", name)
		}
		r.Fail(errors.New("later"))
		if !errors.Is(r.Err, errBad) {
			t.Errorf("%s: first error replaced", name)
		}
	}
}

func TestReaderAllocatesNothing(t *testing.T) {
	b := AppendBytes(binary.AppendVarint(nil, 1<<40), "abcdef")
	allocs := testing.AllocsPerRun(100, func() {
		r := NewReader(b, 0, errBad)
		r.Varint()
		r.Span()
	})
	if allocs != 0 {
		t.Fatalf("allocs = %v, want 0", allocs)
	}
}
