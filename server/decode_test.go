package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
	oapiruntime "github.com/oapi-codegen/runtime"

	"github.com/mewsref/mewsref/gen"
	"github.com/mewsref/mewsref/internal/reqrt"
	"github.com/mewsref/mewsref/internal/spec"
	"github.com/mewsref/mewsref/mews"
)

// The generated request decoders (gen/requests.gen.go) against the path they
// replace, kept here as the oracle: encoding/json's validity check,
// kin-openapi's decode to map[string]any and schema walk, the date-times
// made canonical and the bind of that map into the generated type.

// decodeOps are the operations with generated decoders, with a new value
// of their request body type.
var decodeOps = []struct {
	path string
	new  func() any
}{
	{"/api/connector/v1/messageThreads/getAll", func() any { return new(gen.MessageThreadsGetAllJSONRequestBody) }},
	{"/api/connector/v1/messageThreads/add", func() any { return new(gen.MessageThreadsAddJSONRequestBody) }},
	{"/api/connector/v1/messages/getAll", func() any { return new(gen.MessagesGetAllJSONRequestBody) }},
	{"/api/connector/v1/messages/add", func() any { return new(gen.MessagesAddJSONRequestBody) }},
}

func testValidator(tb testing.TB) *validator {
	tb.Helper()
	doc, err := spec.Load(false)
	if err != nil {
		tb.Fatal(err)
	}
	return newValidator(DefaultBodyLimit, doc)
}

// kinDecode is the oracle: what the server did before the generated
// decoders, from the bytes of a body to the value bound into out.
//
// Duplicate member names: encoding/json, and so kin-openapi, accepts them
// (the last one wins); the generated decoders refuse them. The oracle
// therefore runs a duplicate check of its own (firstDuplicate, on
// encoding/json's tokens) after the validity check and before kin-openapi:
// invalid JSON is reported first, then the first duplicate in the order of
// the document (the second occurrence of a name), then schema violations,
// then a value that does not bind.
func kinDecode(v *validator, path string, body []byte, out any) error {
	if err := checkJSON(body); err != nil {
		return err
	}
	if dup := firstDuplicate(body); dup != nil {
		return decodeError(body, dup)
	}
	req := httptest.NewRequest(v.routes[path].Method, path, nil)
	req.Header.Set("Content-Type", "application/json")
	return kinValidateBind(v, req, path, body, out)
}

// kinValidateBind is the part of the kin-openapi path after the validity
// check, on req: the schema, the date-times, the bind.
func kinValidateBind(v *validator, req *http.Request, path string, body []byte, out any) error {
	route := v.routes[path]
	req.Body = io.NopCloser(bytes.NewReader(body))
	in := &openapi3filter.RequestValidationInput{Request: req, Route: route, Options: &openapi3filter.Options{
		MultiError: true, KeepValidatedValue: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		SchemaValidationOptions: route.Spec.GetSchemaValidationOptions(),
	}}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		return schemaViolation(err)
	}
	val := req.Body.(interface{ ValidatedValue() any }).ValidatedValue()
	if dt := v.dateTimes[path]; dt != nil {
		dt.canonical(val)
	}
	if err := oapiruntime.BindJSONValue(val, out); err != nil {
		return errUnbindable()
	}
	return nil
}

// firstDuplicate finds the first member name that repeats one of its
// object, reading body (valid JSON) with encoding/json's tokens.
func firstDuplicate(body []byte) *reqrt.DuplicateError {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var path []string
	var walk func() *reqrt.DuplicateError
	walk = func() *reqrt.DuplicateError {
		tok, err := dec.Token()
		if err != nil {
			panic(err) // the body is valid
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				kt, _ := dec.Token()
				k := kt.(string)
				if seen[k] {
					return &reqrt.DuplicateError{Name: k, Object: reqrt.PointerPath(path)}
				}
				seen[k] = true
				path = append(path, k)
				if dup := walk(); dup != nil {
					return dup
				}
				path = path[:len(path)-1]
			}
			_, _ = dec.Token()
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				path = append(path, strconv.Itoa(i))
				if dup := walk(); dup != nil {
					return dup
				}
				path = path[:len(path)-1]
			}
			_, _ = dec.Token()
		}
		return nil
	}
	return walk()
}

// generatedDecode is the new path: the generated decoder and the server's
// error for its refusal.
func generatedDecode(path string, body []byte) (any, error) {
	val, err := gen.RequestDecoders[path](body)
	if err != nil {
		return nil, decodeError(body, err)
	}
	return val, nil
}

// sameOutcome fails when the two paths differ on body: accept or refuse,
// the error (code, Message, Details) or the value bound.
func sameOutcome(t *testing.T, v *validator, op int, body []byte) {
	t.Helper()
	o := decodeOps[op]
	want := o.new()
	wantErr := kinDecode(v, o.path, body, want)
	got, gotErr := generatedDecode(o.path, body)
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("%s %q: kin-openapi path: %v; generated decoder: %v", o.path, body, describeErr(wantErr), describeErr(gotErr))
	}
	if wantErr != nil {
		if !reflect.DeepEqual(asMews(t, wantErr), asMews(t, gotErr)) {
			t.Fatalf("%s %q:\nkin-openapi path:  %s\ngenerated decoder: %s", o.path, body, describeErr(wantErr), describeErr(gotErr))
		}
		return
	}
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("%s %q: kin-openapi path binds %#v, the generated decoder %#v", o.path, body, want, got)
	}
}

func asMews(t *testing.T, err error) *mews.Error {
	t.Helper()
	var e *mews.Error
	if !errors.As(err, &e) {
		t.Fatalf("not a *mews.Error: %v", err)
	}
	return e
}

func describeErr(err error) string {
	var e *mews.Error
	if err == nil {
		return "accepted"
	}
	if !errors.As(err, &e) {
		return err.Error()
	}
	d, _ := json.Marshal(e.Details)
	return e.Code + " " + strconv.Quote(e.Message) + " " + string(d)
}

const (
	creds     = `"ClientToken":"c","AccessToken":"a","Client":"x"`
	anID      = `"3fa85f64-5717-4562-b3fc-2c963f66afa6"`
	aInterval = `{"StartUtc":"2022-03-03T00:00:00Z","EndUtc":"2022-03-14T00:00:00.5+01:00"}`
)

// decodeSeeds are bodies of every operation, valid and not: duplicates,
// case variants, nulls, huge numbers, bad dates, escapes, deep nesting.
var decodeSeeds = []struct {
	op   int
	body string
}{
	{0, `{` + creds + `,"EnterpriseIds":[` + anID + `],"CreatedUtc":` + aInterval + `,"Limitation":{"Cursor":` + anID + `,"Count":10}}`},
	{0, `{` + creds + `,"MessageThreadIds":[` + anID + `,` + anID + `],"UpdatedUtc":` + aInterval + `,"Limitation":{"Count":1000}}`},
	{0, `{` + creds + `,"MessageThreadIds":null,"CreatedUtc":null,"EnterpriseIds":null,"Limitation":{"Count":1,"Cursor":null}}`},
	{0, `{` + creds + `,"Limitation":{"Count":0.5}}`},
	{0, `{` + creds + `,"Limitation":{"Count":1e400}}`},
	{0, `{` + creds + `,"Limitation":{"Count":1e2}}`},
	{0, `{` + creds + `,"Limitation":{"Count":-0}}`},
	{0, `{` + creds + `,"Limitation":{"Count":99999999999999999999999}}`},
	{0, `{` + creds + `,"Limitation":{"Count":"10"}}`},
	{0, `{` + creds + `,"Limitation":{}}`},
	{0, `{` + creds + `,"Limitation":null}`},
	{0, `{` + creds + `,"CreatedUtc":{"StartUtc":"2022-03-03 00:00:00Z","EndUtc":"2022-02-30T00:00:00Z"},"Limitation":{"Count":1}}`},
	{0, `{` + creds + `,"CreatedUtc":{"StartUtc":"0000-01-01T00:00:00+01:00","EndUtc":"9999-12-31T23:59:59-01:00"},"Limitation":{"Count":1}}`},
	{0, `{` + creds + `,"CreatedUtc":"2022-03-03T00:00:00Z","UpdatedUtc":[],"Limitation":{"Count":1}}`},
	{0, `{` + creds + `,"CreatedUtc":{"StartUtc":"2022-03-03T00:00:00.1234567891Z","EndUtc":"2022-03-03t00:00:00z"},"Limitation":{"Count":1}}`},
	{0, `{` + creds + `,"EnterpriseIds":[],"MessageThreadIds":["x",null,5],"Limitation":{"Count":1}}`},
	{1, `{"ClientToken":"E0D439EE522F44368DC78E1BFB03710C-D24FB11DBE31D4621C4817E028D9E1D","AccessToken":"C66EF7B239D24632943D115EDE9CB810-EA00F8FD8294692C940F6B5A8F9453D","Client":"Sample Client 1.0.0","OriginalSender":"John Doe","Subject":"Example subject"}`},
	{1, `{` + creds + `,"OriginalSender":"J","Subject":"S","LanguageCode":null,"CultureCode":"cs-CZ","Extra":{"a":[1,{"b":null}]}}`},
	{1, `{` + creds + `,"OriginalSender":"J","Subject":"S","ClientToken":"d"}`},
	{1, `{` + creds + `,"OriginalSender":"J","Subject":"S","clienttoken":"d","CLIENTTOKEN":"e"}`},
	{1, `{` + creds + `,"OriginalSender":"J","Subject":"S","x":{"a":1,"a":2}}`},
	{1, `{` + creds + `,"OriginalSender":"J","Subject":"S","x":[{"a":1},{"b":1,"\u0062":2}]}`},
	{1, `{"ClientToken":"","AccessToken":null,"Client":5,"OriginalSender":true,"Subject":{}}`},
	{1, `{"Client\u0054oken":"\u00e9\ud83d\ude00","AccessToken":"\ud800","Client":"\"\\\/\b\f\n\r\t","OriginalSender":"` + "\xff\xfe" + `","Subject":"` + "\xed\xa0\x80" + `"}`},
	{1, `{}`},
	{1, `null`},
	{1, `[]`},
	{1, `"x"`},
	{1, `1e999`},
	{1, ``},
	{1, `  `},
	{1, `{` + creds + `,"OriginalSender":"J","Subject":"S"} {}`},
	{1, `{` + creds + `,"OriginalSender":"J","Subject":"S",}`},
	{1, `{` + creds + `,"OriginalSender":"J","Subject":"S" /* c */}`},
	{1, `{` + creds + `,"OriginalSender":"J","Subject":"S","x":01}`},
	{1, `{` + creds + `,"OriginalSender":"J","Subject":"S","x":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`},
	// Deep but valid (the kin-openapi path takes time quadratic in the
	// depth: 15 s at 10000 levels; reqrt's tests take the limit itself).
	{1, `{` + creds + `,"OriginalSender":"J","Subject":"S","x":` + strings.Repeat(`[{"a":`, 200) + `1` + strings.Repeat("}]", 200) + `}`},
	{1, `{` + creds + `,"OriginalSender":"J","Subject":"S","x":` + strings.Repeat(`[{"a":`, 200) + `{"b":1,"b":2}` + strings.Repeat("}]", 200) + `}`},
	{1, `{` + creds + `,"OriginalSender":"J","Subject":"S","x":{"a":1,"a":2},"y":[}`},
	{2, `{` + creds + `,"MessageThreadIds":[` + anID + `],"CreatedUtc":` + aInterval + `,"Limitation":{"Count":10}}`},
	{2, `{` + creds + `,"MessageThreadIds":null,"Limitation":{"Count":10}}`},
	{2, `{` + creds + `,"MessageThreadIds":["3FA85F64-5717-4562-B3FC-2C963F66AFA6","3fa85f64-5717-4562-b3fc-2c963f66afa","{3fa85f64-5717-4562-b3fc-2c963f66afa6}"],"Limitation":{"Count":10}}`},
	{2, `{"Limitation":{"Count":10,"Count":11}}`},
	{3, `{` + creds + `,"Messages":[{"MessageThreadId":` + anID + `,"Text":"Hello","Identifier":"my-1"},{"MessageThreadId":` + anID + `,"Text":"x","Identifier":null}]}`},
	{3, `{` + creds + `,"Messages":[]}`},
	{3, `{` + creds + `,"Messages":[null,1,{},{"MessageThreadId":"","Text":""},{"Text":"a","Text":"b"}]}`},
	{3, `{` + creds + `,"Messages":[` + strings.TrimSuffix(strings.Repeat(`{"MessageThreadId":`+anID+`,"Text":"t"},`, 1001), ",") + `]}`},
	{3, `{` + creds + `,"Messages":[` + strings.TrimSuffix(strings.Repeat(`{"Text":""},`, 12), ",") + `]}`},
	// More violations than an error lists (reqrt.MaxViolations), the
	// first by path coming last, and items past maxItems.
	{3, `{"Messages":[` + strings.TrimSuffix(strings.Repeat(`{"Text":""},`, 150), ",") + `],"AccessToken":"a","Client":"x","ClientToken":5}`},
	{3, `{` + creds + `,"Messages":[` + strings.TrimSuffix(strings.Repeat(`null,`, 1200), ",") + `]}`},
	{0, `{` + creds + `,"Limitation":{"Count":1},"MessageThreadIds":[` + strings.TrimSuffix(strings.Repeat(`"x",`, 1100), ",") + `],"EnterpriseIds":[null]}`},
}

func TestGeneratedDecodersMatchKinOpenAPI(t *testing.T) {
	v := testValidator(t)
	for _, s := range decodeSeeds {
		sameOutcome(t, v, s.op, []byte(s.body))
	}
}

// FuzzGeneratedDecoders is the differential test of the generated request
// decoders: the same bytes to the generated decoder and to the kin-openapi
// path (kinDecode), which must agree on accept or refuse, on the error
// (Message and Details, so also the first violation's property path) and,
// when both accept, on the value.
//
//	go test ./server -run '^$' -fuzz '^FuzzGeneratedDecoders$' -fuzztime 10m
func FuzzGeneratedDecoders(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add(uint8(s.op), []byte(s.body))
	}
	v := testValidator(f)
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		sameOutcome(t, v, int(op)%len(decodeOps), body)
	})
}

// vs is a list of violations from pairs of property and message.
func vs(pairs ...string) []Violation {
	var list []Violation
	for i := 0; i < len(pairs); i += 2 {
		list = append(list, Violation{Property: pairs[i], Message: pairs[i+1]})
	}
	return list
}

// The texts a client reads, one behaviour a row.
func TestGeneratedDecoderTexts(t *testing.T) {
	const add = "/api/connector/v1/messages/add"
	const threads = "/api/connector/v1/messageThreads/getAll"
	for _, c := range []struct {
		name, path, body string
		message          string
		details          any
	}{
		{"required", add, `{"AccessToken":"a","Client":"x","Messages":[{"MessageThreadId":` + anID + `,"Text":"t"}]}`,
			"ClientToken is required.", vs("ClientToken", "ClientToken is required.")},
		{"empty string", add, `{"ClientToken":"","AccessToken":"a","Client":"x","Messages":[{"MessageThreadId":` + anID + `,"Text":"t"}]}`,
			"ClientToken must not be empty.", vs("ClientToken", "ClientToken must not be empty.")},
		{"null", add, `{` + creds + `,"Messages":null}`,
			"Messages must not be null.", vs("Messages", "Messages must not be null.")},
		{"type", add, `{` + creds + `,"Messages":{}}`,
			"Messages must be an array.", vs("Messages", "Messages must be an array.")},
		{"items", add, `{` + creds + `,"Messages":[]}`,
			"Messages must contain between 1 and 1000 items.", vs("Messages", "Messages must contain between 1 and 1000 items.")},
		{"item path, sorted by path", add, `{` + creds + `,"Messages":[{"MessageThreadId":"x","Text":""}]}`,
			"Messages[0].MessageThreadId must be a UUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6.", vs("Messages[0].MessageThreadId", "Messages[0].MessageThreadId must be a UUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6.", "Messages[0].Text", "Messages[0].Text must not be empty.")},
		{"integer and range at one path, in that order", threads, `{` + creds + `,"MessageThreadIds":[` + anID + `],"Limitation":{"Count":0.5}}`,
			"Limitation.Count must be an integer.", vs("Limitation.Count", "Limitation.Count must be an integer.", "Limitation.Count", "Limitation.Count must be between 1 and 1000.")},
		{"date-time", threads, `{` + creds + `,"CreatedUtc":{"StartUtc":"2022-03-03T00:00:00","EndUtc":"2022-03-03T00:00:00Z"},"Limitation":{"Count":1}}`,
			"CreatedUtc.StartUtc must be an RFC 3339 date-time such as 2022-03-07T16:09:45Z.", vs("CreatedUtc.StartUtc", "CreatedUtc.StartUtc must be an RFC 3339 date-time such as 2022-03-07T16:09:45Z.")},
		{"body", add, `[]`, "The request body must be an object.", vs("", "The request body must be an object.")},
		{"unbindable integer", threads, `{` + creds + `,"Limitation":{"Count":1e1}}`,
			"The request body does not match the schema of the operation.", nil},
		{"duplicate", add, `{` + creds + `,"Client":"y","Messages":[]}`,
			"Invalid JSON", `The member name "Client" appears more than once in the request body.`},
		{"nested duplicate", add, `{` + creds + `,"Messages":[{"Text":"a","Text":"b"}]}`,
			"Invalid JSON", `The member name "Text" appears more than once in Messages[0].`},
		{"syntax before duplicate", add, `{` + creds + `,"Client":"y",}`,
			"Invalid JSON", "invalid character '}' looking for beginning of object key string"},
		{"trailing data", add, `{} x`, "Invalid JSON", "invalid character 'x' after top-level value"},
		{"empty", add, ``, "Invalid JSON", "The request body is empty."},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := generatedDecode(c.path, []byte(c.body))
			var e *mews.Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want a *mews.Error", err)
			}
			if e.Code != mews.EINVALID || e.Message != c.message || !reflect.DeepEqual(e.Details, c.details) {
				t.Errorf("got %s %q %#v\nwant %q %#v", e.Code, e.Message, e.Details, c.message, c.details)
			}
		})
	}
}

// benchBodies are typical valid bodies of each operation: the spec's
// examples.
var benchBodies = []string{
	`{"ClientToken":"E0D439EE522F44368DC78E1BFB03710C-D24FB11DBE31D4621C4817E028D9E1D","AccessToken":"C66EF7B239D24632943D115EDE9CB810-EA00F8FD8294692C940F6B5A8F9453D","Client":"Sample Client 1.0.0","EnterpriseIds":["3fa85f64-5717-4562-b3fc-2c963f66afa6","4d0201db-36f5-428b-8d11-4f0a65e960cc"],"CreatedUtc":{"StartUtc":"2022-03-03T00:00:00Z","EndUtc":"2022-03-14T00:00:00Z"},"Limitation":{"Cursor":"e7f26210-10e7-462e-9da8-ae8300be8ab7","Count":10}}`,
	`{"ClientToken":"E0D439EE522F44368DC78E1BFB03710C-D24FB11DBE31D4621C4817E028D9E1D","AccessToken":"C66EF7B239D24632943D115EDE9CB810-EA00F8FD8294692C940F6B5A8F9453D","Client":"Sample Client 1.0.0","OriginalSender":"John Doe","Subject":"Example subject"}`,
	`{"ClientToken":"E0D439EE522F44368DC78E1BFB03710C-D24FB11DBE31D4621C4817E028D9E1D","AccessToken":"C66EF7B239D24632943D115EDE9CB810-EA00F8FD8294692C940F6B5A8F9453D","Client":"Sample Client 1.0.0","MessageThreadIds":["8d02142f-31cf-4115-90bf-ae5200c7a1ba"],"Limitation":{"Count":10}}`,
	`{"ClientToken":"E0D439EE522F44368DC78E1BFB03710C-D24FB11DBE31D4621C4817E028D9E1D","AccessToken":"C66EF7B239D24632943D115EDE9CB810-EA00F8FD8294692C940F6B5A8F9453D","Client":"Sample Client 1.0.0","Messages":[{"MessageThreadId":"8d02142f-31cf-4115-90bf-ae5200c7a1ba","Text":"Hello, is breakfast included?","Identifier":"my-message-1"}]}`,
}

// BenchmarkRequestDecode is decode, validate and bind of one body per
// operation: kin is the path before the generated decoders (json.Valid,
// kin-openapi's decode and schema walk, the date-times, the bind of the
// map), generated is the decoder and the hand-over to the handler's value.
//
//	go test ./server -run '^$' -bench RequestDecode -benchmem
func BenchmarkRequestDecode(b *testing.B) {
	v := testValidator(b)
	for i, o := range decodeOps {
		body := []byte(benchBodies[i])
		name := o.path[strings.LastIndex(o.path[:strings.LastIndex(o.path, "/")], "/")+1:]
		b.Run(name+"/kin", func(b *testing.B) {
			req := httptest.NewRequest(http.MethodPost, o.path, nil)
			req.Header.Set("Content-Type", "application/json")
			out := o.new()
			b.ReportAllocs()
			for b.Loop() {
				if err := checkJSON(body); err != nil {
					b.Fatal(err)
				}
				if err := kinValidateBind(v, req, o.path, body, out); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/generated", func(b *testing.B) {
			out := o.new()
			decode := gen.RequestDecoders[o.path]
			b.ReportAllocs()
			for b.Loop() {
				val, err := decode(body)
				if err != nil {
					b.Fatal(err)
				}
				db := &decodedBody{value: val}
				db.Reset(body)
				if !gen.BindDecoded(db.value, out) {
					b.Fatal("not bound")
				}
			}
		})
	}
}
