package server

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/mews"
)

// FuzzJournalMask demands that the journal's masking give, for every
// input, exactly what the reference (journalmask_ref_test.go, the masking
// before its fast paths) gives: maskTokenProperties' masked body and
// AccessToken, and every field of the entry that pending.finish makes of a
// request body, an answer, a Message and the two tokens, cut or not. The
// seeds run in every `go test`; to search further:
//
//	go test ./server -run '^$' -fuzz '^FuzzJournalMask$' -fuzztime 300s
func FuzzJournalMask(f *testing.F) {
	for _, s := range journalMaskSeeds() {
		f.Add(s.body, s.kept, s.client, s.access, s.message, s.flags, s.at)
	}
	f.Fuzz(func(t *testing.T, body, kept []byte, client, access, message string, flags uint8, at uint16) {
		checkJournalMask(t, body, kept, client, access, message, flags, at)
	})
}

// The bits of FuzzJournalMask's flags.
const (
	maskNoBody       = 1 << iota // p.body is nil: no body was read
	maskBodyCut                  // the queued body is the start of a longer one
	maskKeptCut                  // the answer went on beyond kept
	maskMessageCut               // the Message is the start of a longer one
	maskDigest                   // the token configuration knew the access token's digest
	maskClientInBody             // the client token is put into the body at at
	maskAccessInKept             // the access token is put into the answer at at
)

func checkJournalMask(t *testing.T, body, kept []byte, client, access, message string, flags uint8, at uint16) {
	t.Helper()
	if flags&maskClientInBody != 0 {
		body = insertAt(body, client, at)
	}
	if flags&maskAccessInKept != 0 {
		kept = insertAt(kept, access, at)
	}
	in := bytes.Clone(body)
	got, gotAccess, gotClient := maskTokenProperties(nil, bytes.Clone(body))
	want, wantAccess, wantClient := referenceMaskTokenProperties(bytes.Clone(body))
	if !bytes.Equal(got, want) || !bytes.Equal(gotAccess, wantAccess) || (gotAccess == nil) != (wantAccess == nil) ||
		!bytes.Equal(gotClient, wantClient) || (gotClient == nil) != (wantClient == nil) {
		t.Fatalf("maskTokenProperties(%q)\n got %q (access %q, client %q)\nwant %q (access %q, client %q)", in, got, gotAccess, gotClient, want, wantAccess, wantClient)
	}

	digest := tokenKey{1, 2, 3}
	thread := uuid.MustParse("0f0f0f0f-0000-4000-8000-000000000003")
	newPending := func() *pending {
		p := &pending{clientToken: client, accessToken: access, bodyCut: flags&maskBodyCut != 0, messageCut: flags&maskMessageCut != 0}
		if flags&maskNoBody == 0 {
			p.body = append([]byte{}, body...)
		}
		p.kept, p.cut = bytes.Clone(kept), flags&maskKeptCut != 0
		if flags&maskDigest != 0 {
			p.accessDigest = &digest
		}
		p.entry.Message = message
		if access != "" {
			p.entry.AccessToken = MaskToken(access)
		}
		p.entry.ThreadIDs = []uuid.UUID{thread, thread}
		return p
	}
	gp, wp := newPending(), newPending()
	ge, we := gp.finish(), referenceFinish(wp)
	if !reflect.DeepEqual(ge, we) {
		t.Fatalf("finish of body %q, answer %q, message %q, tokens %q %q, flags %b:\n got %s\nwant %s",
			body, kept, message, client, access, flags, show(ge), show(we))
	}
	if gp.accessToken != wp.accessToken {
		t.Fatalf("finish of body %q: the pending's access token %q, want %q", body, gp.accessToken, wp.accessToken)
	}
	// Another entry (the bodies swapped) through the same pending, as
	// recycle leaves it: what finish keeps in it (its scratch) must not
	// show in the next entry.
	body, kept = kept, body
	scratch, keptBuf := gp.scratch[:0], gp.kept[:0]
	*gp, wp = *newPending(), newPending()
	gp.scratch, gp.kept = scratch, append(keptBuf, kept...)
	if ge, we := gp.finish(), referenceFinish(wp); !reflect.DeepEqual(ge, we) {
		t.Fatalf("finish of body %q, answer %q through a used pending:\n got %s\nwant %s", body, kept, show(ge), show(we))
	}
}

// insertAt returns b with s inserted at at (modulo its length).
func insertAt(b []byte, s string, at uint16) []byte {
	i := int(at) % (len(b) + 1)
	return append(append(append([]byte{}, b[:i]...), s...), b[i:]...)
}

// show is what a failure prints of an entry: its bodies, not their
// addresses.
func show(e mews.Request) string {
	deref := func(s *string) any {
		if s == nil {
			return nil
		}
		return *s
	}
	return fmt.Sprintf("%+v\n request body %q\n response body %q", e, deref(e.RequestBody), deref(e.ResponseBody))
}

type journalMaskSeed struct {
	body, kept     []byte
	client, access string
	message        string
	flags          uint8
	at             uint16
}

// journalMaskSeeds are real bodies (make bench's), and the cases that
// masking must get right: escapes, names as decoded, the Kelvin sign,
// misspelled token names, cut bodies and tokens crossing the cut,
// non-ASCII, bodies that are not JSON.
func journalMaskSeeds() []journalMaskSeed {
	const (
		client = "E0D439EE522F44368DC78E1BFB03710C-D24FB11DBE31D4621C4817E028D9E1D"
		access = "C66EF7B239D24632943D115EDE9CB810-EA00F8FD8294692C940F6B5A8F9453D"
	)
	creds := `"AccessToken":"` + access + `","Client":"bench 1.0","ClientToken":"` + client + `"`
	threadAdd := `{` + creds + `,"OriginalSender":"Bench Guest","Subject":"Late check-out?"}`
	var msgs []string
	for i := range 10 {
		msgs = append(msgs, `{"Identifier":"`+string(rune('0'+i))+`","MessageThreadId":"0196b1a4-1f2e-7c3d-9a4b-5c6d7e8f9a0b","Text":"Could we check out at 2 pm?"}`)
	}
	messagesAdd := `{` + creds + `,"Messages":[` + strings.Join(msgs, ",") + `]}`
	threadsPage := `{` + creds + `,"CreatedUtc":{"EndUtc":"2026-11-23T00:00:00Z","StartUtc":"2026-11-01T23:00:00Z"},"Limitation":{"Count":100,"Cursor":"0196b1a4-1f2e-7c3d-9a4b-5c6d7e8f9a0b"}}`
	messagesPage := `{` + creds + `,"Limitation":{"Count":100,"Cursor":"0196b1a4-1f2e-7c3d-9a4b-5c6d7e8f9a0c"},"MessageThreadIds":["0196b1a4-1f2e-7c3d-9a4b-5c6d7e8f9a0b"]}`
	threadAnswer := `{"MessageThreads":[{"CreatedUtc":"2026-11-22T00:12:09Z","Id":"0196b1a4-1f2e-7c3d-9a4b-5c6d7e8f9a0b","IsResolved":false,"OriginalSender":"Bench Guest","Subject":"Late check-out?","UpdatedUtc":"2026-11-22T00:12:09Z"}]}` + "\n"
	bigAnswer := `{"MessageThreads":[` + strings.Repeat(`{"Id":"0196b1a4-1f2e-7c3d-9a4b-5c6d7e8f9a0b","Subject":"Late check-out?"},`, 80)
	s := func(body, kept string, flags uint8) journalMaskSeed {
		return journalMaskSeed{body: []byte(body), kept: []byte(kept), client: client, access: access, flags: flags}
	}
	seeds := []journalMaskSeed{
		s(threadAdd, threadAnswer, 0),
		s(threadAdd, threadAnswer, maskDigest),
		s(messagesAdd, `{"MessageIds":["0196b1a4-1f2e-7c3d-9a4b-5c6d7e8f9a0b"]}`, 0),
		s(threadsPage, bigAnswer[:journalResponseLimit+journalResponseMargin], maskKeptCut),
		s(messagesPage, bigAnswer, 0),
		// Escapes, and names as decoded.
		s(`{"Access\u0054oken":"`+access+`","Client\u0054oken":"`+client+`"}`, "", 0),
		s(`{"AccessToken":"`+access+`\\","Text":"x"}`, "", 0),
		s(`{"AccessToken":"with \" quote `+access+`"}`, "", 0),
		s(`{"Text":"ClientToken \u0022", "Tok\"en":"x"}`, "", 0),
		s(`{"Client":"x","ClientT\oken":"`+client+`"}`, "", 0),
		s(`{"Text":"a\\\\"}`, `{"Message":"\u00e9 \\ `+access+`"}`, 0),
		// In any case: the Kelvin sign is a k.
		s(`{"AccessTo`+"\u212a"+`en":"`+access+`","Ωtoken":"0123456789abcdef","Tokyo":"x"}`, "", 0),
		s(`{"Text":"`+"\u212a"+`","ClientToken":"`+client+`"}`, "", 0),
		s(`{"AccessTo\u212Aen":"`+access+`","Mytoken":"\u00e9"}`, "", 0),
		s(`{"İtoken":"`+access+`","TOKEN":"x"}`, "", 0),
		s(`{"accesstoKEN":"0123456789abcdef","TOKEN":"abc","Tok":"x"}`, "", 0),
		// Misspelled token names, tokens where a value is not a string.
		s(`{"Acess_Tokn":"`+access+`","ClientTokens":"`+client+`","MyTOKENs":"abc"}`, "", 0),
		s(`{"AccessToken":12, "Text":"AccessToken"}`, "", 0),
		s(`{"AccessToken":["`+access+`"]}`, "", 0),
		s(`{"ClientToken" "`+client+`"}`, "", 0),
		s(`["token" "x", "token"]`, "", 0),
		// Cut bodies, and tokens crossing the cut.
		s(`{"AccessToken":"`+access[:20], "", maskBodyCut),
		s(`{"Client":"bench 1.0","Text":"`+client[:40], `{"x":"`+access[:30], maskBodyCut|maskKeptCut),
		s(threadAdd[:len(threadAdd)/2], threadAnswer[:len(threadAnswer)/2], maskBodyCut|maskKeptCut),
		// Tokens outside properties, in the answer and in the Message.
		{body: []byte(`{"Text":"my token is ` + client + `"}`), kept: []byte(`{"Text":"` + access + `"}`), client: client, access: access,
			message: "Invalid AccessToken " + access, flags: 0},
		{body: []byte(`{"Text":""}`), kept: []byte(`x`), client: client, access: access,
			message: strings.Repeat("é", 100) + access[:30], flags: maskMessageCut},
		// Refused before authentication: the token the body said.
		{body: []byte(threadAdd), kept: []byte(`{"Message":"Invalid AccessToken."}`), client: client, message: "Invalid AccessToken."},
		{body: []byte(`{"AccessToken":"short"}`), kept: []byte(`short`), message: "short"},
		{body: []byte(threadAdd[:len(threadAdd)-1] + `,"Text":"` + client + `"}`), kept: []byte(`{"Message":"x"}`), message: "x " + client},
		// Short tokens are masked only as properties.
		{body: []byte(`{"ClientToken":"abc","Text":"abc"}`), kept: []byte(`abc`), client: "abc", access: "abcdefg"},
		// Non-ASCII, and not JSON.
		s(`{"AccessToken":"žluťoučký kůň úpěl ďábelské ódy","Text":"Příliš"}`, `{"Subject":"Pozdní odjezd"}`, 0),
		s("{\"Text\":\"\xff\xfe\",\"AccessToken\":\""+access+"\"}", "\xc3", maskKeptCut),
		s(`not json "AccessToken": "`+access+`" tail`, "", 0),
		s(`{"AccessToken":"`+access+`","Text":"unterminated`, "", 0),
		s(``, ``, maskNoBody),
		{body: []byte(`{"Text":"x"}`), kept: []byte(`{"y":1}`), client: client, access: access, flags: maskClientInBody | maskAccessInKept, at: 9},
		// A body full of a token's rarest byte, and the token at its end.
		s(`{"Text":"`+strings.Repeat("F", 600)+access+`"}`, strings.Repeat("FB", 300)+client, 0),
	}
	return seeds
}

// A request refused before its handler took its tokens (a body that
// breaks the schema): the ClientToken its body said is masked wherever it
// appears, as its AccessToken is. It was masked only as the property's
// value, and shown in full elsewhere in the body and in the Message.
func TestJournalMasksTheClientTokenOfARefusedBody(t *testing.T) {
	const client = "E0D439EE522F44368DC78E1BFB03710C-D24FB11DBE31D4621C4817E028D9E1D"
	for _, body := range []string{
		`{"ClientToken":"` + client + `","Client":"` + client + `"}`,
		`{"Client\u0054oken":"` + client + `","Client":"` + client + `"}`, // not the fast path
	} {
		p := &pending{body: []byte(body)}
		p.kept = []byte(`{"Message":"` + client + `"}`)
		p.entry.Message = "refused: " + client
		e := p.finish()
		for what, s := range map[string]string{"request body": *e.RequestBody, "response body": *e.ResponseBody, "message": e.Message} {
			if strings.Contains(s, client) {
				t.Errorf("body %s: the %s shows the ClientToken: %s", body, what, s)
			}
		}
		p.recycle()
	}
}
