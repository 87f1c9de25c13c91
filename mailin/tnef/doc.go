// Package tnef unpacks the Transport Neutral Encapsulation Format ([MS-OXTNEF]), the
// application/ms-tnef part Outlook and Exchange send as winmail.dat, into plain files and
// bodies a customer can open. [Decode] is the whole API; it reads a byte slice and never
// panics, whatever the input.
//
// # The format
//
// A TNEF stream is the signature 0x223E9F78 and a 16-bit legacy key, both little-endian,
// followed by attributes. Each attribute is a level byte (1 for the message, 2 for an
// attachment), a 32-bit attribute tag (identifier in the low word, type in the high word),
// a 32-bit length, that many bytes of data and a 16-bit checksum, the sum of the data
// bytes modulo 65536. An attAttachRendData attribute opens each attachment; the attributes
// of level 2 after it describe that attachment: attAttachTitle (its 8.3 name),
// attAttachData (its bytes), attAttachModifyDate, and attAttachment, a list of MAPI
// properties. attMsgProps holds the message's MAPI properties, among them the bodies;
// attBody is the legacy plain-text body; attOemCodepage names the code page of the 8-bit
// strings.
//
// A MAPI property list is a 32-bit count and, for each property, a 32-bit tag (type in the
// low word, identifier in the high word), the name of a named property (identifier 0x8000
// and above: a GUID and a number or a UTF-16 name) and the value. Fixed-size values are
// padded to 4 bytes; strings, binaries and objects, single-valued or not, carry a count,
// then for each value a 32-bit length, the bytes and padding to 4 bytes. A multi-valued
// property (type flag 0x1000) carries a count before its values. The RTF body
// (PR_RTF_COMPRESSED) is compressed with LZFu or stored as is ('MELA'), per [MS-OXRTFCP].
//
// # What Decode returns
//
// One [File] for each attachment that carries data (attAttachData, PR_ATTACH_DATA_BIN or
// PR_ATTACH_DATA_OBJ), in the order of the stream; an attachment with an empty data
// attribute gives an empty file, one without any (an attachment by reference) gives none.
// The name is PR_ATTACH_LONG_FILENAME, else attAttachTitle, else PR_ATTACH_FILENAME, else
// PR_DISPLAY_NAME, else empty; it is decoded to UTF-8 (8-bit strings with the code page of
// attOemCodepage) and cut at its first NUL. Names may repeat and are not sanitised for use
// as paths. ModTime is PR_LAST_MODIFICATION_TIME (UTC), else attAttachModifyDate, which is
// the sender's local time without a zone and is taken as UTC. The data of an OLE object
// (PR_ATTACH_DATA_OBJ of an attachment that is not an embedded message) is kept as stored,
// as MimeKit extracts it: the 16-byte interface identifier, then the compound file.
//
// Embedded messages (attached Outlook items: mails, tasks, appointments; PR_ATTACH_METHOD
// 5) are flattened: the TNEF stream inside their PR_ATTACH_DATA_OBJ is decoded in turn, up
// to 8 levels deep, and its files take the item's place in the list, whatever damage that
// stream has; the item's own bodies and the placeholder attAttachData Outlook writes for it
// ("This attachment is a MAPI 1.0 embedded message…") are dropped.
//
// Body is PR_BODY, else attBody; BodyHTML is PR_BODY_HTML (PR_HTML); both are decoded to
// UTF-8 (UTF-16 values as such, 8-bit ones with PR_INTERNET_CPID, else PR_MESSAGE_CODEPAGE,
// else attOemCodepage) without their trailing NULs. A charset declared inside the HTML is
// left as it is. Where the stream names no code page this package knows, 8-bit text that
// is valid UTF-8 is kept as is and other text is read as windows-1252. BodyRTF is
// PR_RTF_COMPRESSED decompressed, as many bytes as its header declares at most; its CRC is
// not checked.
//
// # Damaged input
//
// Input without the TNEF signature gives [ErrNotTNEF] and no message. Otherwise Decode is
// lenient, as MimeKit's loose mode is, so that a customer still gets what can be read:
//
//   - Checksums are not checked: a wrong one says nothing the lengths do not, and rejecting
//     it would lose attachments that are intact.
//   - A byte that cannot start an attribute (a level other than 1 or 2) ends the stream:
//     what follows is trailing garbage (a line break, padding, the rest of a mangled part)
//     and is ignored without error.
//   - An attribute that starts but does not fit in the input (header, data or checksum cut
//     short, a length beyond the end), or a legacy key cut short, gives an error wrapping
//     [ErrTruncated] together with the message decoded so far, never nil: the attachments
//     before the cut are intact.
//   - Damage inside an attribute (a MAPI property list that runs short or has a type this
//     package cannot step over, an RTF stream without its end) keeps what was read before
//     it and is not reported.
//
// Allocations stay in proportion to the input whatever lengths and counts it declares (the
// RTF body, being decompressed, can reach 9 times its compressed size), and the returned
// message does not share memory with the input.
//
// [MS-OXTNEF]: https://learn.microsoft.com/en-us/openspecs/exchange_server_protocols/ms-oxtnef
// [MS-OXRTFCP]: https://learn.microsoft.com/en-us/openspecs/exchange_server_protocols/ms-oxrtfcp
package tnef
