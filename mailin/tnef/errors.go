package tnef

import "errors"

// Sentinel errors, wrapped by what [Decode] returns.
var (
	// ErrNotTNEF: the input does not start with the TNEF signature 0x223E9F78.
	ErrNotTNEF = errors.New("tnef: not a TNEF stream")
	// ErrTruncated: the input ends inside an attribute; the message decoded so far comes
	// with it.
	ErrTruncated = errors.New("tnef: truncated stream")
)

// errRTF: the compressed RTF is damaged. Decode keeps what was decompressed before the
// damage and does not report it.
var errRTF = errors.New("tnef: damaged compressed RTF")
