package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/internal/apitest"
	"github.com/mewsref/mewsref/internal/spec"
	"github.com/mewsref/mewsref/mews"
	"github.com/mewsref/mewsref/server"
	"github.com/mewsref/mewsref/sqlite"
)

// The fuzz targets send raw bytes as the body of one operation through the
// whole server (validation, authentication, handler, in-memory SQLite) and
// demand: no 5xx (a panic is recovered as a 500, so it fails too), and
// every answer valid against the spec, errors being the Mews error body
// whose RequestId is the Request-Id header.
//
//	go test ./server -run '^$' -fuzz '^FuzzMessagesAdd$' -fuzztime 10m
//
// The seeds (the reference's examples and known edge cases) run in every
// `go test`.

// A fixed integration, thread and message, so that seeds can name them and
// reach the handlers' success paths in every fuzz worker process.
var (
	fuzzIntegration = uuid.MustParse("0f0f0f0f-0000-4000-8000-000000000001")
	fuzzEnterprise  = uuid.MustParse("0f0f0f0f-0000-4000-8000-000000000002")
	fuzzThread      = uuid.MustParse("0f0f0f0f-0000-4000-8000-000000000003")
	fuzzMessage     = uuid.MustParse("0f0f0f0f-0000-4000-8000-000000000004")
)

const (
	fuzzClientToken    = "fuzz-client-token-0123456789"
	fuzzAccessToken    = "fuzz-access-token-0123456789"
	fuzzPortfolioToken = "fuzz-portfolio-token-0123456789"
	// fuzzBodyLimit is small, so that 413 is within the fuzzer's reach.
	fuzzBodyLimit = 64 << 10
	// fuzzResetEvery bounds the data that a long run accumulates.
	fuzzResetEvery = 5000
)

// fuzzServer is the server under fuzzing, recreated now and then.
type fuzzServer struct {
	tb        testing.TB
	validator *apitest.Validator
	handler   http.Handler
	close     func()
	served    int
}

func newFuzzServer(tb testing.TB) *fuzzServer {
	fs := &fuzzServer{tb: tb, validator: apitest.NewValidator(tb)}
	fs.reset()
	tb.Cleanup(func() { fs.close() })
	return fs
}

func (fs *fuzzServer) reset() {
	if fs.close != nil {
		fs.close()
	}
	ctx := context.Background()
	store, err := sqlite.Open(ctx, sqlite.Memory)
	if err != nil {
		fs.tb.Fatal(err)
	}
	created := time.Date(2022, 3, 7, 16, 9, 45, 0, time.UTC)
	if err := store.MessageThreadsAdd(ctx, mews.Thread{
		ID: fuzzThread, IntegrationID: fuzzIntegration, EnterpriseID: fuzzEnterprise,
		OriginalSender: "John Doe", Subject: "fuzz", CreatedUTC: created, UpdatedUTC: created,
	}); err != nil {
		fs.tb.Fatal(err)
	}
	if err := store.MessagesAdd(ctx, mews.Scope{IntegrationID: fuzzIntegration, EnterpriseIDs: []uuid.UUID{fuzzEnterprise}}, []mews.Message{{
		ID: fuzzMessage, ThreadID: fuzzThread, Text: "hello", Sender: mews.SenderApplication, CreatedUTC: created,
	}}); err != nil {
		fs.tb.Fatal(err)
	}
	h, closeServer, err := server.New(server.Config{
		Store: store,
		Tokens: &server.TokenConfig{Integrations: []server.IntegrationConfig{{
			Name: "fuzz", ClientToken: fuzzClientToken, ID: fuzzIntegration,
			AccessTokens: []server.AccessTokenConfig{
				{Token: fuzzAccessToken, EnterpriseIDs: []uuid.UUID{fuzzEnterprise}},
				{Token: fuzzPortfolioToken, EnterpriseIDs: []uuid.UUID{fuzzEnterprise, server.DemoGrossPricingEnterprise}},
			},
		}}},
		Now:       func() time.Time { return created.Add(time.Hour) },
		BodyLimit: fuzzBodyLimit,
		// A failure then shows the internal error (or panic) in the body.
		ExposeInternalErrors: true,
	})
	if err != nil {
		fs.tb.Fatal(err)
	}
	fs.handler = h
	fs.close = func() { _ = closeServer(); _ = store.Close() }
	fs.served = 0
}

// check sends body to path and fails t unless the answer is below 500 and
// valid against the spec.
func (fs *fuzzServer) check(t *testing.T, path string, body []byte, minimal bool) {
	if fs.served++; fs.served > fuzzResetEvery {
		fs.reset()
	}
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if minimal {
		req.Header.Set("Prefer", "return=minimal")
	}
	rec := httptest.NewRecorder()
	fs.handler.ServeHTTP(rec, req)
	res := rec.Result()
	if res.StatusCode >= 500 {
		t.Fatalf("status %d for body %q:\n%s", res.StatusCode, body, rec.Body.Bytes())
	}
	if err := fs.validator.Check(req, res.StatusCode, res.Header, rec.Body.Bytes()); err != nil {
		t.Fatalf("status %d violates the spec: %v\nbody %q\nanswer %s", res.StatusCode, err, body, rec.Body.Bytes())
	}
}

// fuzzCreds is the start of a body with the fuzz integration's tokens.
const fuzzCreds = `"ClientToken":"` + fuzzClientToken + `","AccessToken":"` + fuzzAccessToken + `","Client":"fuzz 1.0"`

// seed fills in the placeholders of a seed template.
func seed(s string) []byte {
	return []byte(strings.NewReplacer(
		"$CREDS", fuzzCreds,
		"$DEMO", `"ClientToken":"E0D439EE522F44368DC78E1BFB03710C-D24FB11DBE31D4621C4817E028D9E1D","AccessToken":"C66EF7B239D24632943D115EDE9CB810-EA00F8FD8294692C940F6B5A8F9453D","Client":"fuzz"`,
		"$PORTFOLIO", `"ClientToken":"`+fuzzClientToken+`","AccessToken":"`+fuzzPortfolioToken+`","Client":"fuzz"`,
		"$THREAD", fuzzThread.String(),
		"$MESSAGE", fuzzMessage.String(),
		"$ENTERPRISE", fuzzEnterprise.String(),
		"$DEEP", strings.Repeat("[", 20000)+strings.Repeat("]", 20000),
		"$DEEPOBJ", strings.Repeat(`{"a":`, 3000)+"1"+strings.Repeat("}", 3000),
		"$LONG", strings.Repeat("é", 5000),
		"$IDS1001", `"`+strings.TrimSuffix(strings.Repeat(fuzzThread.String()+`","`, 1001), `","`)+`"`,
	).Replace(s))
}

// commonSeeds are edge cases of any body.
var commonSeeds = []string{
	``, ` `, `null`, `true`, `0`, `"x"`, `[]`, `{}`, `{`, `}`, `{"a":1,}`, `/* c */{}`, `{}{}`, `{} x`,
	"\xef\xbb\xbf{}", "\xff\xfe", `{"ClientToken":"\ud800"}`, "{\"ClientToken\":\"\x00\"}",
	`{"ClientToken":null,"AccessToken":null,"Client":null}`,
	`{$CREDS}`, `{$CREDS,$CREDS}`, `{"clienttoken":"x","ACCESSTOKEN":"y","client":"z"}`,
	`{"ClientToken":"wrong",$CREDS}`, `{$CREDS,"ClientToken":"wrong"}`,
	`{"ClientToken":1e999,"AccessToken":-0,"Client":99999999999999999999999999}`,
	`{$CREDS,"x":$DEEP}`, `$DEEP`, `{$CREDS,"x":$DEEPOBJ}`,
	`{$CREDS,"LanguageCode":null,"CultureCode":{"a":[null,{"b":null}]}}`,
}

func addSeeds(f *testing.F, op string, specific []string) {
	doc, err := spec.Load(false)
	if err != nil {
		f.Fatal(err)
	}
	// The reference's own request example of the operation.
	item := doc.Paths.Find("/api/connector/v1/" + op)
	if item == nil || item.Post == nil || item.Post.RequestBody == nil {
		f.Fatalf("no operation %s in the spec", op)
	}
	for _, mt := range item.Post.RequestBody.Value.Content {
		if mt.Example == nil {
			f.Fatalf("%s has no request example", op)
		}
		ex, err := json.Marshal(mt.Example)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(ex, false)
		f.Add(ex, true)
	}
	for _, s := range append(append([]string(nil), commonSeeds...), specific...) {
		f.Add(seed(s), false)
		f.Add(seed(s), true)
	}
}

func fuzzOperation(f *testing.F, op string, specific []string) {
	addSeeds(f, op, specific)
	fs := newFuzzServer(f)
	path := "/api/connector/v1/" + op
	f.Fuzz(func(t *testing.T, body []byte, minimal bool) {
		fs.check(t, path, body, minimal)
	})
}

// Limitations and intervals shared by the getAll operations.
var pagingSeeds = []string{
	`{$CREDS,"MessageThreadIds":["$THREAD"],"Limitation":{"Count":10}}`,
	`{$CREDS,"MessageThreadIds":["$THREAD"],"Limitation":{"Count":1000,"Cursor":null}}`,
	`{$CREDS,"MessageThreadIds":["$THREAD"],"Limitation":{"Count":1001}}`,
	`{$CREDS,"MessageThreadIds":["$THREAD"],"Limitation":{"Count":0}}`,
	`{$CREDS,"MessageThreadIds":["$THREAD"],"Limitation":{"Count":1e3}}`,
	`{$CREDS,"MessageThreadIds":["$THREAD"],"Limitation":{"Count":1.0000000000000001}}`,
	`{$CREDS,"MessageThreadIds":["$THREAD"],"Limitation":{"Count":1e309}}`,
	`{$CREDS,"MessageThreadIds":["$THREAD"],"Limitation":{"Count":-1e309}}`,
	`{$CREDS,"MessageThreadIds":["$THREAD"],"Limitation":{"Count":99999999999999999999999999999}}`,
	`{$CREDS,"MessageThreadIds":["$THREAD"],"Limitation":{"Count":-0}}`,
	`{$CREDS,"MessageThreadIds":["$THREAD"],"Limitation":{"Count":"10"}}`,
	`{$CREDS,"MessageThreadIds":["$THREAD"],"Limitation":{"Count":null,"Cursor":null}}`,
	`{$CREDS,"MessageThreadIds":["$THREAD"],"Limitation":{"Count":2,"COUNT":5000,"count":7}}`,
	`{$CREDS,"MessageThreadIds":["$THREAD"],"Limitation":{"Count":5},"Limitation":{"Count":0}}`,
	`{$CREDS,"MessageThreadIds":["$THREAD"],"Limitation":{"Count":1,"Cursor":"$THREAD"}}`,
	`{$CREDS,"MessageThreadIds":["$THREAD"],"Limitation":{"Count":1,"Cursor":"$MESSAGE"}}`,
	`{$CREDS,"MessageThreadIds":["$THREAD"],"Limitation":{"Count":1,"Cursor":"00000000-0000-0000-0000-000000000000"}}`,
	`{$CREDS,"MessageThreadIds":["$THREAD"],"Limitation":{"Count":1,"Cursor":"{$THREAD}"}}`,
	`{$CREDS,"MessageThreadIds":["$THREAD","$THREAD"],"EnterpriseIds":["$ENTERPRISE","$ENTERPRISE"],"Limitation":{"Count":3}}`,
	`{$PORTFOLIO,"MessageThreadIds":["$THREAD"],"EnterpriseIds":["3FA85F64-5717-4562-B3FC-2C963F66AFA6"],"Limitation":{"Count":3}}`,
	`{$PORTFOLIO,"MessageThreadIds":["$THREAD"],"EnterpriseIds":[],"Limitation":{"Count":3}}`,
	`{$CREDS,"MessageThreadIds":[$IDS1001],"Limitation":{"Count":3}}`,
	`{$CREDS,"MessageThreadIds":["$THREAD"],"CreatedUtc":{"StartUtc":"2022-03-01T00:00:00Z","EndUtc":"2022-03-08T00:00:00Z"},"Limitation":{"Count":3}}`,
	`{$CREDS,"MessageThreadIds":["$THREAD"],"CreatedUtc":{"StartUtc":"2022-03-07T16:09:45.999999999+14:00","EndUtc":"2022-03-07T16:09:45.000000001-12:00"},"Limitation":{"Count":3}}`,
	`{$CREDS,"MessageThreadIds":["$THREAD"],"CreatedUtc":{"StartUtc":"0000-01-01T00:00:00Z","EndUtc":"0000-01-01T00:00:00Z"},"Limitation":{"Count":3}}`,
	`{$CREDS,"MessageThreadIds":["$THREAD"],"CreatedUtc":{"StartUtc":"2022-03-07t16:09:45.219219z","EndUtc":"2022-03-07T16:09:45-00:00"},"Limitation":{"Count":3}}`,
	`{$CREDS,"MessageThreadIds":["$THREAD"],"CreatedUtc":{"StartUtc":"2022-03-07T16:09:45.1234567890123456789+23:59","EndUtc":"2022-03-07T16:09:45.000Z"},"Limitation":{"Count":3}}`,
	`{$CREDS,"MessageThreadIds":["$THREAD"],"CreatedUtc":{"StartUtc":"2016-12-31T23:59:60Z","EndUtc":"2022-03-07T16:09:45,5Z"},"Limitation":{"Count":3}}`,
	`{$CREDS,"MessageThreadIds":["$THREAD"],"CreatedUtc":{"StartUtc":"9999-12-31T23:59:59Z","EndUtc":"9999-12-31T23:59:59.999Z"},"Limitation":{"Count":3}}`,
	`{$CREDS,"MessageThreadIds":["$THREAD"],"CreatedUtc":{"StartUtc":"2022-02-30T00:00:00Z","EndUtc":"2022-03-01T00:00:00Z"},"Limitation":{"Count":3}}`,
	`{$CREDS,"MessageThreadIds":["$THREAD"],"CreatedUtc":{"StartUtc":null,"EndUtc":null},"Limitation":{"Count":3}}`,
	`{$CREDS,"MessageThreadIds":null,"CreatedUtc":null,"UpdatedUtc":null,"Limitation":{"Count":3}}`,
}

func FuzzMessageThreadsGetAll(f *testing.F) {
	fuzzOperation(f, "messageThreads/getAll", slices.Concat(pagingSeeds, []string{
		`{$CREDS,"UpdatedUtc":{"StartUtc":"2022-01-01T00:00:00Z","EndUtc":"2022-04-01T00:00:00Z"},"Limitation":{"Count":3}}`,
		`{$CREDS,"UpdatedUtc":{"StartUtc":"2022-01-01T00:00:00Z","EndUtc":"2022-04-01T00:00:01Z"},"Limitation":{"Count":3}}`,
		`{$CREDS,"UpdatedUtc":{"StartUtc":"2022-03-08T00:00:00Z","EndUtc":"2022-03-01T00:00:00Z"},"Limitation":{"Count":3}}`,
		`{$CREDS,"Limitation":{"Count":3}}`,
	}))
}

func FuzzMessagesGetAll(f *testing.F) {
	fuzzOperation(f, "messages/getAll", slices.Concat(pagingSeeds, []string{
		`{$CREDS,"MessageThreadIds":["$THREAD"],"CreatedUtc":{"StartUtc":"2022-03-01T00:00:00Z","EndUtc":"2022-04-01T00:00:01Z"},"Limitation":{"Count":3}}`,
		`{$CREDS,"Limitation":{"Count":3}}`,
	}))
}

func FuzzMessageThreadsAdd(f *testing.F) {
	fuzzOperation(f, "messageThreads/add", []string{
		`{$CREDS,"OriginalSender":"John Doe","Subject":"Example subject"}`,
		`{$DEMO,"OriginalSender":"$LONG","Subject":"$LONG"}`,
		`{$CREDS,"OriginalSender":"","Subject":"s"}`,
		`{$CREDS,"OriginalSender":"\u0000","Subject":"\ud83d\ude00 \u202e rtl"}`,
		`{$CREDS,"OriginalSender":"a","Subject":"b","SUBJECT":"","subject":null}`,
		`{$CREDS,"OriginalSender":"a","Subject":"b","Subject":""}`,
		`{$CREDS,"OriginalSender":null,"Subject":{"a":null}}`,
		`{$CREDS,"OriginalSender":["a"],"Subject":1}`,
		`{$PORTFOLIO,"OriginalSender":"a","Subject":"b"}`,
	})
}

func FuzzMessagesAdd(f *testing.F) {
	fuzzOperation(f, "messages/add", []string{
		`{$CREDS,"Messages":[{"MessageThreadId":"$THREAD","Text":"Is breakfast included?","Identifier":"q1"}]}`,
		`{$PORTFOLIO,"Messages":[{"MessageThreadId":"$THREAD","Text":"a"},{"MessageThreadId":"$THREAD","Text":"b","Identifier":null}]}`,
		`{$CREDS,"Messages":[{"MessageThreadId":"$THREAD","Text":"a"},{"MessageThreadId":"$MESSAGE","Text":"b"}]}`,
		`{$CREDS,"Messages":[{"MessageThreadId":"$THREAD","Text":""}]}`,
		`{$CREDS,"Messages":[{"MessageThreadId":"$THREAD","Text":"$LONG","Identifier":"$LONG"}]}`,
		`{$CREDS,"Messages":[{"MessageThreadId":"$THREAD","Text":"\u0000\ud800","Identifier":""}]}`,
		`{$CREDS,"Messages":[{"MessageThreadId":"$THREAD","Text":"a","text":"","TEXT":null}]}`,
		`{$CREDS,"Messages":[{"MessageThreadId":"$THREAD","Text":"a","Text":""}]}`,
		`{$CREDS,"Messages":[{"MessageThreadId":"$THREAD","Text":"a","Identifier":7}]}`,
		`{$CREDS,"Messages":[null]}`, `{$CREDS,"Messages":[]}`, `{$CREDS,"Messages":null}`, `{$CREDS,"Messages":{}}`,
		`{$DEMO,"Messages":[{"MessageThreadId":"$THREAD","Text":"not yours"}]}`,
	})
}
