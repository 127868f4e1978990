package otlogin

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/otlogin/otlogin/internal/wire"
)

// Codec is a compact binary [scs.Codec] for session data. [New] sets it on
// the session manager it builds; apps that pass their own
// *scs.SessionManager can set it too:
//
//	sessions := scs.New()
//	sessions.Codec = otlogin.Codec{}
//
// Values of type string, []byte, int, int32, int64, bool, float64 and
// time.Time (what scs's GetString, GetBytes, GetInt, ... read), and nil,
// are written natively and come back with the same type. A value of any other
// type is written with encoding/gob, on its own, so it needs the same
// gob.Register call as with scs's default [scs.GobCodec].
//
// Decoding allocates little whatever the size of the session: the map, at most
// one allocation per value for boxing (and one per string), and for each of the
// host app's []byte values a private copy of that value alone, so appending to
// one never overwrites another and a value costs in proportion to its own size.
// The keys otlogin writes are not allocated, and the []byte values under them (keys
// starting with "otlogin.", which belong to otlogin: it only reads them, and
// apps must not modify them) alias the input instead of being copied: copying
// the tokens on every request would double the cost of a signed-in request.
// On a signed-in request through [Auth.Middleware] Decode does not even run
// unless something asks scs for a session value: otlogin reads its own values
// in place.
// This is safe because scs never
// modifies the data a Store returns, and otlogin's default store, scs's
// memstore and package store's memory, Redis and PostgreSQL stores return data
// that they never modify afterwards; a custom Store used with Codec must do the
// same.
//
// Decode also reads data written by [scs.GobCodec], so switching an existing
// manager to Codec keeps its current sessions. Decode checks every length
// against the remaining input, so corrupt or hostile data yields an error,
// never a panic or an outsized allocation.
//
// The format is: a zero byte (never the first byte of a gob stream), a
// version byte (1), the deadline as varint Unix seconds and uvarint
// nanoseconds, the number of values, then for each value its key (uvarint
// length and bytes), a type tag and the payload.
type Codec struct{}

var _ scs.Codec = Codec{}

// codecVersion is the current format version, written after the zero byte.
const codecVersion = 1

// Type tags of the format. Never renumber: stored sessions outlive releases.
const (
	tagNil     = 0
	tagString  = 1  // uvarint length, bytes
	tagBytes   = 2  // uvarint length, bytes
	tagInt64   = 3  // varint
	tagInt     = 4  // varint
	tagInt32   = 5  // varint
	tagFalse   = 6  // no payload
	tagTrue    = 7  // no payload
	tagFloat64 = 8  // 8 bytes, little-endian IEEE 754 bits
	tagTime    = 9  // uvarint length, time.Time.MarshalBinary
	tagGob     = 10 // uvarint length, gob stream of one interface value
)

// Errors of the codec. They wrap errCodec so tests can tell them apart
// from other failures; none contains session data.
var (
	errCodec        = errors.New("otlogin: session codec")
	errCodecShort   = fmt.Errorf("%w: truncated data", errCodec)
	errCodecVersion = fmt.Errorf("%w: unknown format version", errCodec)
)

// Encode implements [scs.Codec].
func (Codec) Encode(deadline time.Time, values map[string]interface{}) ([]byte, error) {
	size := 2 + 2*binary.MaxVarintLen64 + binary.MaxVarintLen64
	for k, v := range values {
		size += binary.MaxVarintLen64 + len(k) + 1 + binary.MaxVarintLen64
		switch v := v.(type) {
		case string:
			size += len(v)
		case []byte:
			size += len(v)
		case time.Time:
			size += 16
		}
	}
	b := make([]byte, 2, size)
	b[0], b[1] = 0, codecVersion
	b = binary.AppendVarint(b, deadline.Unix())
	b = binary.AppendUvarint(b, uint64(deadline.Nanosecond()))
	b = binary.AppendUvarint(b, uint64(len(values)))
	for k, v := range values {
		b = wire.AppendBytes(b, k)
		var err error
		if b, err = appendValue(b, v); err != nil {
			return nil, fmt.Errorf("otlogin: encode session value %q: %w", k, err)
		}
	}
	return b, nil
}

// appendValue appends the type tag and payload of v.
func appendValue(b []byte, v interface{}) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, tagNil), nil
	case string:
		return wire.AppendBytes(append(b, tagString), v), nil
	case []byte:
		return wire.AppendBytes(append(b, tagBytes), v), nil
	case int64:
		return binary.AppendVarint(append(b, tagInt64), v), nil
	case int:
		return binary.AppendVarint(append(b, tagInt), int64(v)), nil
	case int32:
		return binary.AppendVarint(append(b, tagInt32), int64(v)), nil
	case bool:
		if v {
			return append(b, tagTrue), nil
		}
		return append(b, tagFalse), nil
	case float64:
		return binary.LittleEndian.AppendUint64(append(b, tagFloat64), math.Float64bits(v)), nil
	case time.Time:
		t, err := v.MarshalBinary()
		if err != nil {
			return nil, err
		}
		return wire.AppendBytes(append(b, tagTime), t), nil
	default:
		var buf bytes.Buffer
		if err := gob.NewEncoder(&buf).Encode(&v); err != nil {
			return nil, err
		}
		return wire.AppendBytes(append(b, tagGob), buf.Bytes()), nil
	}
}

// Decode implements [scs.Codec].
func (Codec) Decode(data []byte) (time.Time, map[string]interface{}, error) {
	if len(data) == 0 {
		return time.Time{}, nil, errCodecShort
	}
	if data[0] != 0 {
		deadline, values, err := scs.GobCodec{}.Decode(data)
		if err != nil {
			return time.Time{}, nil, fmt.Errorf("%w: neither this format nor gob: %w", errCodec, err)
		}
		return deadline, values, nil
	}
	if len(data) < 2 {
		return time.Time{}, nil, errCodecShort
	}
	if data[1] != codecVersion {
		return time.Time{}, nil, errCodecVersion
	}
	d := decoder{wire.NewReader(data, 2, errCodecShort)}
	sec := d.Varint()
	nsec := d.Uvarint()
	count := d.Uvarint()
	if d.Err != nil {
		return time.Time{}, nil, d.Err
	}
	if nsec >= uint64(time.Second) {
		return time.Time{}, nil, fmt.Errorf("%w: bad deadline", errCodec)
	}
	// Each value takes at least two bytes (key length, tag).
	if count > uint64(len(data)-d.Pos)/2 {
		return time.Time{}, nil, fmt.Errorf("%w: value count exceeds data", errCodec)
	}
	deadline := time.Unix(sec, int64(nsec)).UTC()
	values := make(map[string]interface{}, count)
	for i := uint64(0); i < count; i++ {
		k := d.key()
		v := d.value(strings.HasPrefix(k, internalKeyPrefix))
		if d.Err != nil {
			return time.Time{}, nil, d.Err
		}
		if _, dup := values[k]; dup {
			return time.Time{}, nil, fmt.Errorf("%w: duplicate key", errCodec)
		}
		values[k] = v
	}
	if d.Pos != len(data) {
		return time.Time{}, nil, fmt.Errorf("%w: trailing data", errCodec)
	}
	return deadline, values, nil
}

// decoder reads the format; the first error sticks in Err (see wire.Reader).
type decoder struct{ wire.Reader }

// key reads a key. The keys otlogin writes on every signed-in session come
// back as string constants, so decoding them allocates nothing.
func (d *decoder) key() string {
	start, end := d.Span()
	switch k := d.In[start:end]; string(k) {
	case keyAuth:
		return keyAuth
	case keySeen:
		return keySeen
	case keyFlow:
		return keyFlow
	case keyPreLogin:
		return keyPreLogin
	default:
		return string(k)
	}
}

// internalKeyPrefix starts the keys of otlogin's own session values, whose
// []byte values Decode does not copy.
const internalKeyPrefix = "otlogin."

// value reads a type tag and its payload. A []byte value aliases the input
// when alias is set, else is a copy of its own bytes.
func (d *decoder) value(alias bool) interface{} {
	tag := d.Byte()
	if d.Err != nil {
		return nil
	}
	switch tag {
	case tagNil:
		return nil
	case tagString:
		start, end := d.Span()
		return string(d.In[start:end])
	case tagBytes:
		start, end := d.Span()
		if d.Err != nil {
			return nil
		}
		if alias {
			return d.In[start:end:end]
		}
		// A copy of this value only: the app may modify or append to it, and it costs
		// in proportion to itself, not to the session (which holds the tokens).
		if start == end {
			return []byte{}
		}
		return append([]byte(nil), d.In[start:end]...)
	case tagInt64:
		return d.Varint()
	case tagInt:
		v := d.Varint()
		if int64(int(v)) != v {
			d.Fail(fmt.Errorf("%w: int out of range", errCodec))
			return nil
		}
		return int(v)
	case tagInt32:
		v := d.Varint()
		if v < math.MinInt32 || v > math.MaxInt32 {
			d.Fail(fmt.Errorf("%w: int32 out of range", errCodec))
			return nil
		}
		return int32(v)
	case tagFalse:
		return false
	case tagTrue:
		return true
	case tagFloat64:
		start, end := d.Fixed(8)
		if d.Err != nil {
			return nil
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(d.In[start:end]))
	case tagTime:
		start, end := d.Span()
		var t time.Time
		if d.Err == nil {
			if err := t.UnmarshalBinary(d.In[start:end]); err != nil {
				d.Fail(fmt.Errorf("%w: bad time value: %w", errCodec, err))
			}
		}
		return t
	case tagGob:
		start, end := d.Span()
		if d.Err != nil {
			return nil
		}
		var v interface{}
		if err := gob.NewDecoder(bytes.NewReader(d.In[start:end])).Decode(&v); err != nil {
			d.Fail(fmt.Errorf("%w: gob value: %w", errCodec, err))
			return nil
		}
		return v
	default:
		d.Fail(fmt.Errorf("%w: unknown type tag %d", errCodec, tag))
		return nil
	}
}

// maxScanValues is the most values scanSession handles; larger sessions take the generic
// path (its duplicate check is quadratic).
const maxScanValues = 32

// sessionScan is what a signed-in request needs from an encoded session, read in place.
type sessionScan struct {
	auth []byte // the keyAuth value when it is a []byte, aliasing the input; else nil
	seen int64  // the keySeen value when it is an int64; else 0

	// preLogin: the session holds keyPreLogin and a value besides it and keyFlow, written
	// by a save outside Middleware (see Auth.begin and endPreLogin).
	preLogin bool
}

// scanSession reads data, in Codec's format, without building the values map and without
// allocating: it returns otlogin's own values (what scs's GetBytes(keyAuth) and
// GetInt64(keySeen) would return after Decode) and ok. It checks everything Decode checks,
// so ok is true exactly when Decode would succeed; it also reports false, leaving the
// session to Decode, for data in gob format, a value stored with encoding/gob, or more than
// maxScanValues values.
func scanSession(data []byte) (sc sessionScan, ok bool) {
	if len(data) < 2 || data[0] != 0 || data[1] != codecVersion {
		return sc, false
	}
	d := decoder{wire.NewReader(data, 2, errCodecShort)}
	d.Varint()
	nsec := d.Uvarint()
	count := d.Uvarint()
	if d.Err != nil || nsec >= uint64(time.Second) || count > maxScanValues || count > uint64(len(data)-d.Pos)/2 {
		return sc, false
	}
	var keys [maxScanValues][2]int
	var mark, others bool
	for i := 0; i < int(count); i++ {
		ks, ke := d.Span()
		k := data[ks:ke]
		for _, prev := range keys[:i] {
			if string(data[prev[0]:prev[1]]) == string(k) {
				return sc, false // duplicate key: Decode's error
			}
		}
		keys[i] = [2]int{ks, ke}
		tag, vs, ve, iv := d.skipValue()
		if d.Err != nil || tag == tagGob {
			return sc, false
		}
		switch string(k) {
		case keyAuth:
			if tag == tagBytes {
				sc.auth = data[vs:ve:ve]
			}
			others = true
		case keySeen:
			if tag == tagInt64 {
				sc.seen = iv
			}
			others = true
		case keyPreLogin:
			mark = true
		case keyFlow:
		default:
			others = true
		}
	}
	if d.Pos != len(data) {
		return sessionScan{}, false
	}
	sc.preLogin = mark && others
	return sc, true
}

// skipValue reads a type tag and its payload like value, checking the same things, but
// returns the payload's bounds (and the integer of an integer tag) instead of a value.
func (d *decoder) skipValue() (tag byte, start, end int, iv int64) {
	tag = d.Byte()
	if d.Err != nil {
		return 0, 0, 0, 0
	}
	switch tag {
	case tagNil, tagFalse, tagTrue:
	case tagString, tagBytes, tagGob:
		start, end = d.Span()
	case tagInt64:
		iv = d.Varint()
	case tagInt:
		iv = d.Varint()
		if int64(int(iv)) != iv {
			d.Fail(fmt.Errorf("%w: int out of range", errCodec))
		}
	case tagInt32:
		iv = d.Varint()
		if iv < math.MinInt32 || iv > math.MaxInt32 {
			d.Fail(fmt.Errorf("%w: int32 out of range", errCodec))
		}
	case tagFloat64:
		d.Fixed(8)
	case tagTime:
		start, end = d.Span()
		var t time.Time
		if d.Err == nil && t.UnmarshalBinary(d.In[start:end]) != nil {
			d.Fail(fmt.Errorf("%w: bad time value", errCodec))
		}
	default:
		d.Fail(fmt.Errorf("%w: unknown type tag %d", errCodec, tag))
	}
	return tag, start, end, iv
}
