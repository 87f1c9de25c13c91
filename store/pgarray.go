package store

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"time"
)

// PostgreSQL's binary array format, for the bulk path's columns: each column of a batch goes as
// one array parameter, which the driver sends as bytes and the server reads without parsing
// text (no quoting, no escaping, no number or date to read back).

// pgTypes are the element types a column may have, with their OIDs.
var pgTypes = map[string]uint32{"bool": 16, "bytea": 17, "int8": 20, "text": 25, "timestamptz": 1184}

// pgEpoch is where PostgreSQL's binary timestamps count from, in microseconds since 1970.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()

// pgArray encodes vals as a one-dimensional array of typ in the binary format (array_recv):
// its header, then each element as its length (-1 for NULL) and its bytes.
func pgArray(typ string, vals []any) ([]byte, error) {
	oid, ok := pgTypes[typ]
	if !ok {
		return nil, fmt.Errorf("array of %s: not a type the bulk path writes", typ)
	}
	size := 20
	for _, v := range vals {
		size += 4 + 8
		switch v := v.(type) {
		case string:
			size += len(v)
		case []byte:
			size += len(v)
		}
	}
	b := make([]byte, 20, size)
	hasNull := uint32(0)
	binary.BigEndian.PutUint32(b[0:], 1) // dimensions
	binary.BigEndian.PutUint32(b[8:], oid)
	binary.BigEndian.PutUint32(b[12:], uint32(len(vals)))
	binary.BigEndian.PutUint32(b[16:], 1) // lower bound
	for i, v := range vals {
		if v == nil {
			b = binary.BigEndian.AppendUint32(b, 0xFFFFFFFF)
			hasNull = 1
			continue
		}
		var err error
		if b, err = appendElement(b, typ, v); err != nil {
			return nil, fmt.Errorf("array of %s, element %d: %w", typ, i+1, err)
		}
	}
	binary.BigEndian.PutUint32(b[4:], hasNull)
	return b, nil
}

// appendElement appends one element, its length first.
func appendElement(b []byte, typ string, v any) ([]byte, error) {
	switch typ {
	case "int8":
		var n int64
		switch v := v.(type) {
		case int64:
			n = v
		case int:
			n = int64(v)
		default:
			return nil, fmt.Errorf("%T is not an integer", v)
		}
		b = binary.BigEndian.AppendUint32(b, 8)
		return binary.BigEndian.AppendUint64(b, uint64(n)), nil
	case "bool":
		t, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("%T is not a boolean", v)
		}
		b = binary.BigEndian.AppendUint32(b, 1)
		if t {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	case "timestamptz":
		t, ok := v.(time.Time)
		if !ok {
			return nil, fmt.Errorf("%T is not a time", v)
		}
		b = binary.BigEndian.AppendUint32(b, 8)
		return binary.BigEndian.AppendUint64(b, uint64(t.UnixMicro()-pgEpoch)), nil
	case "bytea":
		d, ok := v.([]byte)
		if !ok {
			return nil, fmt.Errorf("%T is not bytes", v)
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(d)))
		return append(b, d...), nil
	default: // text
		s, ok := v.(string)
		if !ok {
			// A named string type: ticket.Lang, ticket.Role ….
			if rv := reflect.ValueOf(v); rv.Kind() == reflect.String {
				s = rv.String()
			} else {
				return nil, fmt.Errorf("%T is not text", v)
			}
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		return append(b, s...), nil
	}
}
