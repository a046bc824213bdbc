package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"unicode/utf8"
	"unsafe"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/mews"
)

// The journal's masking: what the recorder does to an entry before it is
// stored (finish), so that no full token reaches the journal.

// finish masks what p holds and returns the entry to store. The masked
// request body is written to p.scratch (kept by recycle), not to a buffer
// of its own per entry.
func (p *pending) finish() mews.Request {
	e := &p.entry // masked in place: one copy of it, the one returned
	// The secrets are the tokens' own bytes, only read.
	var secretsArr [3]secret
	secrets := secretsArr[:0]
	addSecret := func(tok string) []byte {
		b := unsafe.Slice(unsafe.StringData(tok), len(tok))
		if len(tok) >= minSecretLen {
			secrets = append(secrets, secret{b, secretAnchor(b)})
		}
		return b
	}
	addSecret(p.clientToken)
	access := addSecret(p.accessToken)
	if p.body != nil {
		var dst []byte
		if len(p.body) <= scratchLimit {
			dst = p.scratch[:0]
		}
		body, sent, sentClient := maskTokenProperties(dst, p.body)
		if unsafe.SliceData(body) != unsafe.SliceData(p.body) && cap(body) <= scratchLimit {
			p.scratch = body[:0] // a copy, perhaps grown: never p.body itself
		}
		if p.accessToken == "" && len(sent) > 0 {
			// Refused before authentication: what the body said.
			p.accessToken = string(sent)
			e.AccessToken = MaskToken(p.accessToken)
			access = addSecret(p.accessToken)
		}
		if p.clientToken == "" && len(sentClient) > 0 {
			// Refused before the handler took its tokens (an invalid
			// body): the ClientToken the body said is the request's own
			// too, masked wherever it appears.
			p.clientToken = string(sentClient)
			addSecret(p.clientToken)
		}
		b := maskSecrets(body, secrets)
		if p.bodyCut {
			b = cutSecretStart(b, secrets) // a token cut at the end is cut off
		}
		var cut bool
		p.bodies[0], cut = keepBody(b, journalRequestLimit, p.bodyCut)
		e.RequestBody, e.Truncated = &p.bodies[0], e.Truncated || cut
	}
	switch {
	case p.accessDigest != nil:
		e.AccessTokenHash = p.accessDigest[:]
	case p.accessToken != "":
		h := sha256.Sum256(access)
		e.AccessTokenHash = h[:]
	}
	if len(p.kept) > 0 {
		// p.kept is what the capture kept: if the response went on, a
		// token may be cut at its end, and is cut off.
		b := maskSecrets(p.kept, secrets)
		if p.cut {
			b = cutSecretStart(b, secrets)
		}
		var cut bool
		p.bodies[1], cut = keepBody(b, journalResponseLimit, p.cut)
		e.ResponseBody, e.Truncated = &p.bodies[1], e.Truncated || cut
	}
	if e.Message != "" {
		if containsSecrets(unsafe.Slice(unsafe.StringData(e.Message), len(e.Message)), secrets) { // only read
			e.Message = string(maskSecrets([]byte(e.Message), secrets))
		}
		if p.messageCut || len(e.Message) > journalMessageLimit {
			m := []byte(e.Message)
			if p.messageCut {
				m = cutSecretStart(m, secrets)
			}
			e.Message, _ = keepBody(m, journalMessageLimit, p.messageCut)
			e.Truncated = true
		}
	}
	e.ThreadIDs = distinctIDs(e.ThreadIDs)
	if e.EnterpriseIDs == nil {
		e.EnterpriseIDs = []uuid.UUID{}
	}
	return *e
}

// cutSecretStart cuts b before a start of one of the secrets at its end:
// the start of a token whose rest was not captured.
func cutSecretStart(b []byte, secrets []secret) []byte {
	for _, sec := range secrets {
		s := sec.b
		for i := max(0, len(b)-len(s)+1); i < len(b); i++ {
			if b[i] == s[0] && bytes.HasPrefix(s, b[i:]) {
				b = b[:i]
				break
			}
		}
	}
	return b
}

// minSecretLen is the shortest token that is masked wherever it appears;
// shorter ones (possible in a config file) are masked where they are
// properties of the body only, lest every "a" of a body be masked.
const minSecretLen = 8

// scratchLimit is the largest buffer finish keeps in a pending for the
// next entry, what a capture keeps at most: a pending in the pool holding
// 64 KiB of a large body's copy would count it in the bytes in flight
// (pending.size) of every entry it serves after.
const scratchLimit = journalResponseLimit + journalResponseMargin

// maskSecrets replaces every occurrence of the secrets in b by their masks.
func maskSecrets(b []byte, secrets []secret) []byte {
	if !containsSecrets(b, secrets) {
		return b // as a rule: one search, not one per secret
	}
	for i, s := range secrets {
		if containsSecrets(b, secrets[i:i+1]) {
			b = bytes.ReplaceAll(b, s.b, appendMask(nil, s.b))
		}
	}
	return b
}

// secret is a token masked wherever it appears, and the index of the byte
// of it that it is looked for by (secretAnchor).
type secret struct {
	b      []byte
	anchor int
}

// containsSecrets says whether b contains any of the secrets (each of
// minSecretLen bytes or more). Each is looked for by a byte of its middle
// that is rare in bodies (secretAnchor), not by its first as
// bytes.Contains does: a token longer than bytealg.MaxLen (an access
// token's 65 bytes) is searched from every occurrence of its first byte,
// and a token's first bytes are in its mask (C66E…453D), so in every body
// masked. Secrets with the same anchor byte (two tokens' F, as a rule)
// are looked for in one pass.
func containsSecrets(b []byte, secrets []secret) bool {
	for len(secrets) > 0 {
		n := 1
		c := secrets[0].b[secrets[0].anchor]
		for n < len(secrets) && secrets[n].b[secrets[n].anchor] == c {
			n++
		}
		if containsAnchored(b, c, secrets[:n]) {
			return true
		}
		secrets = secrets[n:]
	}
	return false
}

// containsAnchored is containsSecrets for secrets whose anchor byte is c.
func containsAnchored(b []byte, c byte, secrets []secret) bool {
	fails := 0
	for i := 0; i < len(b); i++ {
		j := bytes.IndexByte(b[i:], c)
		if j < 0 {
			return false
		}
		i += j
		for _, s := range secrets {
			if at := i - s.anchor; at >= 0 && at+len(s.b) <= len(b) && bytes.Equal(b[at:at+len(s.b)], s.b) {
				return true
			}
		}
		// A body full of c (an attacker's): bytes.Contains, which bounds
		// its work, for the rest of it.
		if fails++; fails > 4+i>>4 {
			for _, s := range secrets {
				if bytes.Contains(b[max(0, i+1-s.anchor):], s.b) {
					return true
				}
			}
			return false
		}
	}
	return false
}

// secretAnchor returns the index of the byte of s to look for it by: not
// one of the four at either end (which its mask shows), and of the others
// the first of the rarest kind in bodies (anchorRanks).
func secretAnchor(s []byte) int {
	best, rank := 0, uint8(255)
	for i := 4; i < len(s)-4; i++ {
		if r := anchorRanks[s[i]]; r < rank {
			best, rank = i, r
			if r == 0 {
				break
			}
		}
	}
	return best
}

// anchorRanks ranks bytes by how common they are in JSON bodies of the
// API, 0 the rarest, for secretAnchor (a table, only read): first the
// upper-case letters that start none of its property names, F and B
// before all (hex digits: the tokens are hex as a rule, so that two
// tokens are likely to have the same anchor byte and be looked for in one
// pass), then punctuation that JSON does not use, then the other
// upper-case letters. Lower-case letters, digits, JSON's punctuation,
// white space and the bytes of characters that are not ASCII are the
// commonest.
var anchorRanks = func() (r [256]uint8) {
	for c := range r {
		r[c] = 255
	}
	for i, c := range []byte("FBGHJKQVXYZ" + "!#$%&'()*+/;<=>?@\\^_`|~" + "ACDEILMNOPRSTUW") {
		r[c] = uint8(i)
	}
	return r
}()

// appendMask appends MaskToken(tok) to dst, without a string of its own
// for an ASCII token.
func appendMask(dst, tok []byte) []byte {
	if !isASCII(tok) {
		return append(dst, MaskToken(string(tok))...)
	}
	n := min(4, len(tok)/8)
	switch n {
	case 0:
		return append(dst, "****"...)
	case 4: // tokens as a rule: one append, not three
		l := len(tok)
		return append(dst, tok[0], tok[1], tok[2], tok[3], 0xe2, 0x80, 0xa6, tok[l-4], tok[l-3], tok[l-2], tok[l-1]) // "…" in UTF-8
	}
	return append(append(append(dst, tok[:n]...), "…"...), tok[len(tok)-n:]...)
}

// maskTokenProperties masks the string value of every property whose name
// contains "token" in any case (ClientToken, AccessToken, and their
// misspellings, which the API ignores but the journal must not show), in
// one pass over b; b need not be valid JSON. Names are compared as decoded
// ("Access\u0054oken" is AccessToken). Where a token's value cannot be
// told for sure (a name with "token" whose colon or string value is
// missing, a string that does not end, a name that does not decode), every
// string of b is masked (maskAllStrings). The masked copy is appended to
// dst[:0] (b itself comes back if nothing is masked). It returns the values
// of the properties AccessToken and ClientToken, if any, unmasked: b's
// bytes, not copies (the recorder needs them only for a request refused
// before authentication).
func maskTokenProperties(dst, b []byte) (masked, accessToken, clientToken []byte) {
	if bytes.IndexByte(b, '\\') < 0 && (bytes.IndexByte(b, kelvin[0]) < 0 || !bytes.Contains(b, []byte(kelvin))) {
		return maskPlainTokenProperties(dst, b)
	}
	var out []byte // a copy, made at the first mask
	last := 0
	for i := 0; i < len(b); {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			break
		}
		start := i + q
		end := stringEnd(b, start)
		if end < 0 {
			return maskAllStrings(b), nil, nil
		}
		i = end + 1
		name, ok := decodedName(b[start : end+1])
		if !ok {
			return maskAllStrings(b), nil, nil
		}
		colon := skipSpace(b, end+1)
		if colon >= len(b) || b[colon] != ':' {
			if colon >= len(b) || bytes.IndexByte([]byte(",}]"), b[colon]) >= 0 {
				continue // a value (its name is not compared: half the strings)
			}
			if containsFold(name, "token") {
				return maskAllStrings(b), nil, nil // a name without its colon
			}
			continue
		}
		if !containsFold(name, "token") {
			continue
		}
		v := skipSpace(b, colon+1)
		if v >= len(b) || b[v] != '"' {
			return maskAllStrings(b), nil, nil // a token in a value that is no string
		}
		vend := stringEnd(b, v)
		if vend < 0 {
			return maskAllStrings(b), nil, nil
		}
		value := b[v+1 : vend]
		if out == nil {
			out = copyBuffer(dst, len(b))
		}
		out = append(out, b[last:v+1]...)
		if bytes.IndexByte(value, '\\') < 0 {
			out = appendMask(out, value)
			switch string(name) {
			case "AccessToken":
				accessToken = value
			case "ClientToken":
				clientToken = value
			}
		} else {
			out = append(out, "****"...)
		}
		out = append(out, '"')
		last, i = vend+1, vend+1
	}
	if out == nil {
		return b, accessToken, clientToken
	}
	return append(out, b[last:]...), accessToken, clientToken
}

// kelvin is the Kelvin sign, which the decoder takes for a k in a name.
const kelvin = "\u212a"

// copyBuffer returns dst[:0] to copy a body of n bytes to, or a new buffer
// if dst is too small.
func copyBuffer(dst []byte, n int) []byte {
	if cap(dst) < n {
		return make([]byte, 0, n)
	}
	return dst[:0]
}

// maskPlainTokenProperties is maskTokenProperties for a b without a
// backslash and without the Kelvin sign: the bodies of almost every
// request. In such a b every quote opens or closes a string in turn, a
// string is its bytes as decoded, and a name holds "token" in any case
// exactly when its bytes hold it in any ASCII case (the Kelvin sign is the
// only character other than t, o, k, e and n in either case that
// bytes.ToLower makes one of them). So only the strings that hold "token"
// are looked at, found from its k with IndexByte (tokenFinder), not every
// string and name; what is done with each is what maskTokenProperties
// does.
func maskPlainTokenProperties(dst, b []byte) (masked, accessToken, clientToken []byte) {
	if bytes.Count(b, []byte{'"'})%2 != 0 {
		return maskAllStrings(b), nil, nil // the last string does not end
	}
	var out []byte // a copy, made at the first mask
	last := 0
	f := tokenFinder{b: b}
	counted, open := 0, false // the quotes of b[:counted] are counted; open: an odd number
	for i := 0; ; {
		t := f.next(i)
		if t < 0 {
			break
		}
		open = open != (bytes.Count(b[counted:t], []byte{'"'})%2 != 0)
		counted = t
		if !open {
			i = t + 1 // not in a string
			continue
		}
		end := t + bytes.IndexByte(b[t:], '"') // there is one: the quotes are even
		i, counted, open = end+1, end+1, false
		colon := skipSpace(b, end+1)
		if colon >= len(b) || b[colon] != ':' {
			if colon >= len(b) || bytes.IndexByte([]byte(",}]"), b[colon]) >= 0 {
				continue // a value
			}
			return maskAllStrings(b), nil, nil // a name without its colon
		}
		v := skipSpace(b, colon+1)
		if v >= len(b) || b[v] != '"' {
			return maskAllStrings(b), nil, nil // a token in a value that is no string
		}
		vend := v + 1 + bytes.IndexByte(b[v+1:], '"')
		value := b[v+1 : vend]
		if out == nil {
			out = copyBuffer(dst, len(b))
		}
		out = append(out, b[last:v+1]...)
		out = appendMask(out, value)
		out = append(out, '"')
		// The name is AccessToken if "token" ends it and the 7 bytes
		// before it are "Access: no quote in them, so that one opens it;
		// ClientToken likewise.
		if end-t == len("token") && t >= len(`"Access`) {
			switch string(b[t-len(`"Access`) : end]) {
			case `"AccessToken`:
				accessToken = value
			case `"ClientToken`:
				clientToken = value
			}
		}
		last, i, counted = vend+1, vend+1, vend+1
	}
	if out == nil {
		return b, nil, nil
	}
	return append(out, b[last:]...), accessToken, clientToken
}

// tokenFinder finds "token" in any ASCII case in b by its k, k and K with
// IndexByte (vectorised; k is the rarest of its letters in English), each
// found once: it holds the next of each until passed.
type tokenFinder struct {
	b            []byte
	lower, upper int // the next k and K found; -1: none left. 0: not looked for yet
}

// next returns where the first "token" at i or after starts, or -1.
func (f *tokenFinder) next(i int) int {
	for {
		// The k of a "token" at i is at i+2.
		if f.lower >= 0 && f.lower < i+2 {
			f.lower = indexByteFrom(f.b, i+2, 'k')
		}
		if f.upper >= 0 && f.upper < i+2 {
			f.upper = indexByteFrom(f.b, i+2, 'K')
		}
		k := f.lower
		if k < 0 || (f.upper >= 0 && f.upper < k) {
			k = f.upper
		}
		if k < 0 {
			return -1
		}
		// Only t and T give t with 0x20 set, and so on.
		if k+2 < len(f.b) && f.b[k-2]|0x20 == 't' && f.b[k-1]|0x20 == 'o' && f.b[k+1]|0x20 == 'e' && f.b[k+2]|0x20 == 'n' {
			return k - 2
		}
		i = k - 1 // on from the next k
	}
}

// indexByteFrom is the index of the first c in b at i or after, or -1.
func indexByteFrom(b []byte, i int, c byte) int {
	if i >= len(b) {
		return -1
	}
	if j := bytes.IndexByte(b[i:], c); j >= 0 {
		return i + j
	}
	return -1
}

// decodedName returns the content of the JSON string quoted (its quotes
// included) as a decoder reads it; false if it is not a valid string.
func decodedName(quoted []byte) ([]byte, bool) {
	inner := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return inner, true
	}
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		return nil, false
	}
	return []byte(s), true
}

// maskAllStrings replaces the content of every string of b with ****, and
// cuts a string that does not end: for bodies where a token's place cannot
// be told.
func maskAllStrings(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return append(out, b[i:]...)
		}
		start := i + q
		out = append(out, b[i:start]...)
		end := stringEnd(b, start)
		if end < 0 {
			return append(out, `"****`...)
		}
		out = append(out, `"****"`...)
		i = end + 1
	}
	return out
}

// stringEnd returns the index of the quote that ends the JSON string that
// starts at b[start], or -1.
// The next quote is found with IndexByte, not a loop over every byte:
// every string of every body recorded is scanned (a byte loop was a
// third of what masking cost a messageThreads/add entry); a quote ends
// the string unless an odd run of backslashes precedes it.
func stringEnd(b []byte, start int) int {
	for i := start + 1; ; i++ {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return -1
		}
		i += q
		escaped := false
		for j := i - 1; b[j] == '\\'; j-- { // stops at the opening quote
			escaped = !escaped
		}
		if !escaped {
			return i
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// containsFold says whether s contains sub (lower-case ASCII letters) in
// any case, as strings.EqualFold compares (the Kelvin sign is a k): an
// ASCII s is compared a byte at a time, for it is called for every string
// of every body recorded.
func containsFold(s []byte, sub string) bool {
	if !isASCII(s) {
		return containsFoldUnicode(s, sub)
	}
	for i := 0; i+len(sub) <= len(s); i++ {
		j := 0
		for j < len(sub) && s[i+j]|0x20 == sub[j] {
			j++
		}
		if j == len(sub) {
			return true
		}
	}
	return false
}

// isASCII says whether b is all ASCII, 32 bytes at a time (a token's 65
// in three steps), then eight.
func isASCII(b []byte) bool {
	for ; len(b) >= 32; b = b[32:] {
		if (binary.LittleEndian.Uint64(b)|binary.LittleEndian.Uint64(b[8:])|
			binary.LittleEndian.Uint64(b[16:])|binary.LittleEndian.Uint64(b[24:]))&0x8080808080808080 != 0 {
			return false
		}
	}
	for ; len(b) >= 8; b = b[8:] {
		if binary.LittleEndian.Uint64(b)&0x8080808080808080 != 0 {
			return false
		}
	}
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// containsFoldUnicode is containsFold for an s that is not ASCII: the
// Kelvin sign is three bytes, so the windows of len(sub) bytes that
// strings.EqualFold compared never matched it.
func containsFoldUnicode(s []byte, sub string) bool {
	return bytes.Contains(bytes.ToLower(s), []byte(sub))
}
