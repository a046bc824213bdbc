package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/mews"
)

// The journal's masking as it was before its fast paths (c5474fc), kept
// verbatim but for the names and one change made to both (the ClientToken
// of a body refused before authentication is masked wherever it appears),
// as the reference that FuzzJournalMask compares pending.finish and
// maskTokenProperties with: every input must be masked exactly as it was.

// referenceFinish is pending.finish as it was.
func referenceFinish(p *pending) mews.Request {
	e := p.entry
	// The secrets as bytes, in p.scratch (kept by recycle).
	var secretsArr [3][]byte
	secrets := secretsArr[:0]
	scratch := p.scratch[:0]
	addSecret := func(tok string) []byte {
		start := len(scratch)
		scratch = append(scratch, tok...)
		b := scratch[start:len(scratch):len(scratch)]
		if len(tok) >= referenceMinSecretLen {
			secrets = append(secrets, b)
		}
		return b
	}
	addSecret(p.clientToken)
	access := addSecret(p.accessToken)
	defer func() { p.scratch = scratch }()
	if p.body != nil {
		body, sent, sentClient := referenceMaskTokenProperties(p.body)
		if p.accessToken == "" && len(sent) > 0 {
			// Refused before authentication: what the body said.
			p.accessToken = string(sent)
			e.AccessToken = MaskToken(p.accessToken)
			access = addSecret(p.accessToken)
		}
		if p.clientToken == "" && len(sentClient) > 0 {
			// Refused before the handler took its tokens (a change
			// made to both, after c5474fc).
			p.clientToken = string(sentClient)
			addSecret(p.clientToken)
		}
		b := referenceMaskSecrets(body, secrets)
		if p.bodyCut {
			b = referenceCutSecretStart(b, secrets) // a token cut at the end is cut off
		}
		var cut bool
		e.RequestBody, cut = referenceKeepBody(b, journalRequestLimit, p.bodyCut)
		e.Truncated = e.Truncated || cut
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
		b := referenceMaskSecrets(p.kept, secrets)
		if p.cut {
			b = referenceCutSecretStart(b, secrets)
		}
		var cut bool
		e.ResponseBody, cut = referenceKeepBody(b, journalResponseLimit, p.cut)
		e.Truncated = e.Truncated || cut
	}
	if e.Message != "" {
		for _, s := range secrets {
			if strings.Contains(e.Message, string(s)) {
				e.Message = string(referenceMaskSecrets([]byte(e.Message), secrets))
				break
			}
		}
		if p.messageCut || len(e.Message) > journalMessageLimit {
			m := []byte(e.Message)
			if p.messageCut {
				m = referenceCutSecretStart(m, secrets)
			}
			kept, _ := referenceKeepBody(m, journalMessageLimit, p.messageCut)
			e.Message, e.Truncated = *kept, true
		}
	}
	e.ThreadIDs = distinctIDs(e.ThreadIDs)
	if e.EnterpriseIDs == nil {
		e.EnterpriseIDs = []uuid.UUID{}
	}
	return e
}

// referenceCutSecretStart cuts b before a start of one of the secrets at its end:
// the start of a token whose rest was not captured.
func referenceCutSecretStart(b []byte, secrets [][]byte) []byte {
	for _, s := range secrets {
		for i := max(0, len(b)-len(s)+1); i < len(b); i++ {
			if b[i] == s[0] && bytes.HasPrefix(s, b[i:]) {
				b = b[:i]
				break
			}
		}
	}
	return b
}

// referenceMinSecretLen is the shortest token that is masked wherever it appears;
// shorter ones (possible in a config file) are masked where they are
// properties of the body only, lest every "a" of a body be masked.
const referenceMinSecretLen = 8

// referenceMaskSecrets replaces every occurrence of the secrets in b by their masks.
func referenceMaskSecrets(b []byte, secrets [][]byte) []byte {
	for _, s := range secrets {
		if bytes.Contains(b, s) {
			b = bytes.ReplaceAll(b, s, referenceAppendMask(nil, s))
		}
	}
	return b
}

// referenceAppendMask appends MaskToken(tok) to dst, without a string of its own
// for an ASCII token.
func referenceAppendMask(dst, tok []byte) []byte {
	if !referenceIsASCII(tok) {
		return append(dst, MaskToken(string(tok))...)
	}
	n := min(4, len(tok)/8)
	if n == 0 {
		return append(dst, "****"...)
	}
	return append(append(append(dst, tok[:n]...), "…"...), tok[len(tok)-n:]...)
}

// referenceMaskTokenProperties masks the string value of every property whose name
// contains "token" in any case (ClientToken, AccessToken, and their
// misspellings, which the API ignores but the journal must not show), in
// one pass over b; b need not be valid JSON. Names are compared as decoded
// ("Access\u0054oken" is AccessToken). Where a token's value cannot be
// told for sure (a name with "token" whose colon or string value is
// missing, a string that does not end, a name that does not decode), every
// string of b is masked (referenceMaskAllStrings). It returns the value of the property AccessToken, if
// any, unmasked: b's bytes, not a copy (the recorder needs it only for a
// request refused before authentication).
func referenceMaskTokenProperties(b []byte) (masked, accessToken, clientToken []byte) {
	var out []byte // a copy, made at the first mask
	last := 0
	for i := 0; i < len(b); {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			break
		}
		start := i + q
		end := referenceStringEnd(b, start)
		if end < 0 {
			return referenceMaskAllStrings(b), nil, nil
		}
		i = end + 1
		name, ok := referenceDecodedName(b[start : end+1])
		if !ok {
			return referenceMaskAllStrings(b), nil, nil
		}
		colon := referenceSkipSpace(b, end+1)
		if colon >= len(b) || b[colon] != ':' {
			if colon >= len(b) || bytes.IndexByte([]byte(",}]"), b[colon]) >= 0 {
				continue // a value (its name is not compared: half the strings)
			}
			if referenceContainsFold(name, "token") {
				return referenceMaskAllStrings(b), nil, nil // a name without its colon
			}
			continue
		}
		if !referenceContainsFold(name, "token") {
			continue
		}
		v := referenceSkipSpace(b, colon+1)
		if v >= len(b) || b[v] != '"' {
			return referenceMaskAllStrings(b), nil, nil // a token in a value that is no string
		}
		vend := referenceStringEnd(b, v)
		if vend < 0 {
			return referenceMaskAllStrings(b), nil, nil
		}
		value := b[v+1 : vend]
		if out == nil {
			out = make([]byte, 0, len(b))
		}
		out = append(out, b[last:v+1]...)
		if bytes.IndexByte(value, '\\') < 0 {
			out = referenceAppendMask(out, value)
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

// referenceDecodedName returns the content of the JSON string quoted (its quotes
// included) as a decoder reads it; false if it is not a valid string.
func referenceDecodedName(quoted []byte) ([]byte, bool) {
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

// referenceMaskAllStrings replaces the content of every string of b with ****, and
// cuts a string that does not end: for bodies where a token's place cannot
// be told.
func referenceMaskAllStrings(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return append(out, b[i:]...)
		}
		start := i + q
		out = append(out, b[i:start]...)
		end := referenceStringEnd(b, start)
		if end < 0 {
			return append(out, `"****`...)
		}
		out = append(out, `"****"`...)
		i = end + 1
	}
	return out
}

// referenceStringEnd returns the index of the quote that ends the JSON string that
// starts at b[start], or -1.
// The next quote is found with IndexByte, not a loop over every byte:
// every string of every body recorded is scanned (a byte loop was a
// third of what masking cost a messageThreads/add entry); a quote ends
// the string unless an odd run of backslashes precedes it.
func referenceStringEnd(b []byte, start int) int {
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

func referenceSkipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// referenceContainsFold says whether s contains sub (lower-case ASCII letters) in
// any case, as strings.EqualFold compares (the Kelvin sign is a k): an
// ASCII s is compared a byte at a time, for it is called for every string
// of every body recorded.
func referenceContainsFold(s []byte, sub string) bool {
	if !referenceIsASCII(s) {
		return referenceContainsFoldUnicode(s, sub)
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

// referenceIsASCII says whether b is all ASCII, eight bytes at a time.
func referenceIsASCII(b []byte) bool {
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

// referenceContainsFoldUnicode is referenceContainsFold for an s that is not ASCII: the
// Kelvin sign is three bytes, so the windows of len(sub) bytes that
// strings.EqualFold compared never matched it.
func referenceContainsFoldUnicode(s []byte, sub string) bool {
	return bytes.Contains(bytes.ToLower(s), []byte(sub))
}

// referenceKeepBody returns the first limit bytes of b, cut at a UTF-8 boundary,
// and whether it cut. cut says that b is already the start of a longer
// body, perhaps cut inside a character. The string shares b's memory, not
// a copy (4 KiB of a page's answer, for every entry, was a tenth of what
// the journal cost a page in garbage collection): b is a buffer of the
// entry's pending or a masked copy of one, and the pending is recycled
// only once the store has the entry (write), which keeps none of its
// strings (mews.Journal).
func referenceKeepBody(b []byte, limit int, cut bool) (*string, bool) {
	n := len(b)
	if n > limit {
		n, cut = runeCut(b, limit), true
	} else if cut {
		for i := n - 1; i >= 0 && i >= n-utf8.UTFMax; i-- {
			if utf8.RuneStart(b[i]) {
				if !utf8.FullRune(b[i:n]) {
					n = i
				}
				break
			}
		}
	}
	s := unsafe.String(unsafe.SliceData(b), n)
	return &s, cut
}
