// Package wire reads and writes the binary encodings otlogin stores: uvarints, varints
// and length-prefixed fields (a uvarint length, then that many bytes). The session codec
// and the signed-in state's layout both use it. It allocates nothing except where a
// method says it copies.
package wire

import "encoding/binary"

// AppendBytes appends the uvarint length of s, then s.
func AppendBytes[S string | []byte](b []byte, s S) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Reader reads from In, starting at Pos. The first error sticks in Err; later reads then
// return zero values, so a caller can read a whole record and check Err once. Malformed
// is the error a read past the end or a bad varint sets.
type Reader struct {
	In        []byte
	Pos       int
	Err       error
	Malformed error
}

// NewReader returns a Reader of in from pos, failing with malformed on bad input.
func NewReader(in []byte, pos int, malformed error) Reader {
	return Reader{In: in, Pos: pos, Malformed: malformed}
}

// Fail records err unless an error is already recorded.
func (r *Reader) Fail(err error) {
	if r.Err == nil {
		r.Err = err
	}
}

// Remaining is the number of bytes not read yet.
func (r *Reader) Remaining() int { return len(r.In) - r.Pos }

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if r.Err != nil {
		return 0
	}
	if r.Pos >= len(r.In) {
		r.Fail(r.Malformed)
		return 0
	}
	v := r.In[r.Pos]
	r.Pos++
	return v
}

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 {
	if r.Err != nil {
		return 0
	}
	if r.Pos < len(r.In) && r.In[r.Pos] < 0x80 { // one byte: most lengths
		v := uint64(r.In[r.Pos])
		r.Pos++
		return v
	}
	v, n := binary.Uvarint(r.In[r.Pos:])
	if n <= 0 {
		r.Fail(r.Malformed)
		return 0
	}
	r.Pos += n
	return v
}

// Varint reads a signed varint.
func (r *Reader) Varint() int64 {
	if r.Err != nil {
		return 0
	}
	v, n := binary.Varint(r.In[r.Pos:])
	if n <= 0 {
		r.Fail(r.Malformed)
		return 0
	}
	r.Pos += n
	return v
}

// Span reads a length-prefixed field and returns its bounds in In, checked against the
// remaining input. It copies nothing.
func (r *Reader) Span() (start, end int) {
	n := r.Uvarint()
	if r.Err != nil {
		return 0, 0
	}
	if n > uint64(len(r.In)-r.Pos) {
		r.Fail(r.Malformed)
		return 0, 0
	}
	start, end = r.Pos, r.Pos+int(n)
	r.Pos = end
	return start, end
}

// Str reads a length-prefixed field as a string (a copy).
func (r *Reader) Str() string {
	start, end := r.Span()
	return string(r.In[start:end])
}

// Fixed reads n bytes and returns their bounds in In.
func (r *Reader) Fixed(n int) (start, end int) {
	if r.Err != nil {
		return 0, 0
	}
	if len(r.In)-r.Pos < n {
		r.Fail(r.Malformed)
		return 0, 0
	}
	start, end = r.Pos, r.Pos+n
	r.Pos = end
	return start, end
}
