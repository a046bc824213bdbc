package server

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/gen"
	"github.com/mewsref/mewsref/internal/apitest"
	"github.com/mewsref/mewsref/internal/spec"
	"github.com/mewsref/mewsref/mews"
)

// hostile are strings that JSON encoders get wrong.
var hostile = []string{
	"", "plain", `quote " and backslash \`, "control \x00\x01\x1f\b\f\n\r\t", "html <script>&amp;</script>",
	"line\u2028and\u2029paragraph", "invalid \xff\xfe utf-8 \xc3", "emoji 🏨 and é", "\x7f del",
}

func randomString(rng *rand.Rand) string {
	b := make([]byte, rng.IntN(24))
	for i := range b {
		b[i] = byte(rng.IntN(256))
	}
	return string(b)
}

// TestPagesEncodeLikeTheGeneratedModels checks that the direct encoders of
// the getAll pages write what encoding/json writes for the generated
// models: the same JSON value, for hostile and random strings.
func TestPagesEncodeLikeTheGeneratedModels(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	at := time.Date(2022, 3, 7, 16, 9, 45, 0, time.UTC)
	var threads []mews.Thread
	var msgs []mews.Message
	for i := range 200 {
		s := storable(hostile[i%len(hostile)])
		if i >= len(hostile) {
			s = storable(randomString(rng))
		}
		// Instants with fractions, as stored: both show the second, truncated.
		frac := time.Duration(rng.IntN(1e6)) * time.Microsecond
		threads = append(threads, mews.Thread{ID: uuid.New(), OriginalSender: s, Subject: s + "x",
			CreatedUTC: at.Add(frac), UpdatedUTC: at.Add(time.Duration(i)*time.Second + frac), IsResolved: i%2 == 0})
		msgs = append(msgs, mews.Message{ID: uuid.New(), ThreadID: uuid.New(), Text: s,
			Sender: []mews.Sender{mews.SenderApplication, mews.SenderEnterprise}[i%2], CreatedUTC: at.Add(frac)})
	}
	v := apitest.NewValidator(t)
	for _, n := range []int{0, 1, len(threads)} {
		rec := httptest.NewRecorder()
		if err := (threadsPage{requestID: "r", threads: threads[:n]}).VisitMessageThreadsGetAllResponse(rec); err != nil {
			t.Fatal(err)
		}
		conforms(t, v, "/api/connector/v1/messageThreads/getAll", rec)
		want := gen.MessageThreadResult{MessageThreads: make([]gen.MessageThread, n)}
		for i, th := range threads[:n] {
			want.MessageThreads[i] = threadOut(th)
		}
		if n > 0 {
			want.Cursor = &threads[n-1].ID
		}
		sameJSON(t, rec.Body.Bytes(), want)
		if rec.Header().Get("Request-Id") != "r" || rec.Header().Get("Content-Type") != "application/json" || rec.Code != 200 {
			t.Errorf("headers %v, status %d", rec.Header(), rec.Code)
		}

		rec = httptest.NewRecorder()
		if err := (messagesPage{requestID: "r", messages: msgs[:n]}).VisitMessagesGetAllResponse(rec); err != nil {
			t.Fatal(err)
		}
		conforms(t, v, "/api/connector/v1/messages/getAll", rec)
		wantMsgs := gen.MessageResult{Messages: make([]gen.Message, n)}
		for i, m := range msgs[:n] {
			wantMsgs.Messages[i] = messageOut(m)
		}
		if n > 0 {
			wantMsgs.Cursor = &msgs[n-1].ID
		}
		sameJSON(t, rec.Body.Bytes(), wantMsgs)
	}
}

// TestAddsEncodeLikeTheGeneratedModels checks the direct encoders of the
// 200 responses of the adds against encoding/json of the generated models,
// Identifier null or hostile.
func TestAddsEncodeLikeTheGeneratedModels(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	at := time.Date(2022, 3, 7, 16, 9, 45, 123456000, time.UTC)
	var msgs []mews.Message
	var identifiers []*string
	v := apitest.NewValidator(t)
	for i := range 50 {
		s := storable(hostile[i%len(hostile)])
		if i >= len(hostile) {
			s = storable(randomString(rng))
		}
		th := mews.Thread{ID: uuid.New(), OriginalSender: s, Subject: s + "x", CreatedUTC: at, UpdatedUTC: at.Add(time.Duration(i) * time.Second), IsResolved: i%2 == 1}
		rec := httptest.NewRecorder()
		if err := (threadAdded{requestID: "r", thread: th}).VisitMessageThreadsAddResponse(rec); err != nil {
			t.Fatal(err)
		}
		conforms(t, v, "/api/connector/v1/messageThreads/add", rec)
		sameJSON(t, rec.Body.Bytes(), gen.MessageThreadAddResult{MessageThreads: []gen.MessageThread{threadOut(th)}})
		if rec.Header().Get("Request-Id") != "r" || rec.Header().Get("Content-Type") != "application/json" || rec.Code != 200 {
			t.Errorf("headers %v, status %d", rec.Header(), rec.Code)
		}

		msgs = append(msgs, mews.Message{ID: uuid.New(), ThreadID: uuid.New(), Text: s, Sender: mews.SenderApplication, CreatedUTC: at})
		var id *string
		if i%3 != 0 {
			id = &s
		}
		identifiers = append(identifiers, id)
	}
	for _, n := range []int{0, 1, len(msgs)} {
		rec := httptest.NewRecorder()
		if err := (messagesAdded{requestID: "r", messages: msgs[:n], identifiers: identifiers[:n]}).VisitMessagesAddResponse(rec); err != nil {
			t.Fatal(err)
		}
		conforms(t, v, "/api/connector/v1/messages/add", rec)
		want := gen.AddedMessageResult{Messages: make([]gen.AddedMessage, n)}
		for i, m := range msgs[:n] {
			want.Messages[i] = gen.AddedMessage{Identifier: identifiers[i], Message: messageOut(m)}
		}
		sameJSON(t, rec.Body.Bytes(), want)
		if rec.Header().Get("Request-Id") != "r" || rec.Code != 200 {
			t.Errorf("headers %v, status %d", rec.Header(), rec.Code)
		}
	}
}

// TestAppendTimeIsAppendFormat checks the direct encoder of instants
// against time's own formatting of spec.ResponseTimeLayout: any year, any
// zone, fractions truncated.
func TestAppendTimeIsAppendFormat(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 9))
	zone := time.FixedZone("", -(5*3600 + 30*60))
	instants := []time.Time{
		{}, time.Unix(0, 0), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 6, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 2, 29, 12, 0, 0, 0, zone), time.Date(2000, 1, 1, 0, 0, 0, 0, zone),
	}
	for range 5000 {
		instants = append(instants, time.Unix(rng.Int64N(253402300800+1e9)-1e9, rng.Int64N(1e9)).In(zone))
	}
	for _, at := range instants {
		want := `"` + at.UTC().Format(spec.ResponseTimeLayout) + `"`
		if got := string(appendTime(nil, at)); got != want {
			t.Fatalf("appendTime(%v) = %s, want %s", at, got, want)
		}
	}
}

// TestAppendUUIDIsString checks the direct encoder of ids against
// uuid.UUID.String.
func TestAppendUUIDIsString(t *testing.T) {
	for _, id := range []uuid.UUID{uuid.Nil, uuid.Max, uuid.New(), uuid.New()} {
		if got, want := string(appendUUID(nil, id)), `"`+id.String()+`"`; got != want {
			t.Errorf("appendUUID = %s, want %s", got, want)
		}
	}
}

// threadOut and messageOut are the generated models of a thread and a
// message as responses show them (datetimes through responseTime, exactly
// as 2006-01-02T15:04:05Z): what the direct encoders of pages.go must
// write.
func threadOut(t mews.Thread) gen.MessageThread {
	return gen.MessageThread{
		Id: t.ID, OriginalSender: t.OriginalSender, Subject: t.Subject,
		CreatedUtc: responseTime(t.CreatedUTC), UpdatedUtc: responseTime(t.UpdatedUTC), IsResolved: t.IsResolved,
	}
}

func messageOut(m mews.Message) gen.Message {
	return gen.Message{
		Id: m.ID, MessageThreadId: m.ThreadID, Text: m.Text, CreatedUtc: responseTime(m.CreatedUTC),
		Sender: gen.Sender{Discriminator: gen.SenderDiscriminator(m.Sender)},
	}
}

// storable is s, or a string in its place if the spec refuses it as a
// text (empty): the pages hold what was stored. appendString's own tests
// have the empty string.
func storable(s string) string {
	if s == "" {
		return "(empty)"
	}
	return s
}

// conforms fails t unless rec holds a response of the operation at path
// that conforms to the spec: the direct encoders write the server's
// answers without going through a handler.
func conforms(t *testing.T, v *apitest.Validator, path string, rec *httptest.ResponseRecorder) {
	t.Helper()
	if err := v.Check(httptest.NewRequest(http.MethodPost, path, nil), rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
		t.Errorf("%s: %v\n%.2000s", path, err, rec.Body.Bytes())
	}
}

// sameJSON fails unless got is valid JSON with the value of want's JSON.
func sameJSON(t *testing.T, got []byte, want any) {
	t.Helper()
	if !json.Valid(got) {
		t.Fatalf("not JSON: %q", got)
	}
	wantJSON, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(wantJSON, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("encodings differ:\n got %s\nwant %s", got, wantJSON)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range hostile {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendString(nil, s)
		want, _ := json.Marshal(s)
		var g, w string
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("%q encodes to invalid JSON %q: %v", s, got, err)
		}
		_ = json.Unmarshal(want, &w)
		if g != w {
			t.Errorf("%q: got %q, encoding/json %q", s, got, want)
		}
	})
}

// TestAppendStringWordAtATime checks the word-at-a-time path of
// appendString against encoding/json: every byte value at every position
// of a run of plain bytes, and random runs.
func TestAppendStringWordAtATime(t *testing.T) {
	check := func(s string) {
		t.Helper()
		var got, want string
		if err := json.Unmarshal(appendString(nil, s), &got); err != nil {
			t.Fatalf("%q: invalid JSON %q", s, appendString(nil, s))
		}
		w, _ := json.Marshal(s)
		_ = json.Unmarshal(w, &want)
		if got != want {
			t.Fatalf("%q: got %q, encoding/json %q", s, appendString(nil, s), w)
		}
	}
	for c := range 256 {
		for p := range 17 {
			w := []byte("abcdefghijklmnopq")
			w[p] = byte(c)
			check(string(w))
		}
	}
	rng := rand.New(rand.NewPCG(3, 5))
	for range 20000 {
		w := make([]byte, 8+rng.IntN(24))
		for i := range w {
			w[i] = byte(0x20 + rng.IntN(0x60)) // mostly plain
			if rng.IntN(8) == 0 {
				w[i] = byte(rng.IntN(256))
			}
		}
		check(string(w))
	}
}

// discard is a ResponseWriter that keeps nothing but its header.
type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}

// BenchmarkPageEncoders writes pages of 100 threads and 100 messages like
// those of bench's data set: the encoders alone, without the store.
//
//	go test ./server -run '^$' -bench PageEncoders -benchmem
func BenchmarkPageEncoders(b *testing.B) {
	at := time.Date(2026, 11, 2, 8, 30, 0, 0, time.UTC)
	threads := make([]mews.Thread, 100)
	msgs := make([]mews.Message, 100)
	for i := range threads {
		threads[i] = mews.Thread{ID: uuid.New(), OriginalSender: "Bench Guest", Subject: "Late check-out?",
			CreatedUTC: at.Add(time.Duration(-i) * 3 * time.Second), UpdatedUTC: at.Add(time.Minute)}
		msgs[i] = mews.Message{ID: uuid.New(), ThreadID: threads[0].ID, Text: "Could we check out at 2 pm?",
			Sender: mews.SenderApplication, CreatedUTC: at}
	}
	w := discard{h: http.Header{}}
	b.Run("threads", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := (threadsPage{requestID: "r", threads: threads}).VisitMessageThreadsGetAllResponse(w); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("messages", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := (messagesPage{requestID: "r", messages: msgs}).VisitMessagesGetAllResponse(w); err != nil {
				b.Fatal(err)
			}
		}
	})
}
