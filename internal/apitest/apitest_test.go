package apitest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCheckRejectsResponsesOutsideTheContract(t *testing.T) {
	v := NewValidator(t)
	req, _ := http.NewRequest(http.MethodPost, "http://x/api/connector/v1/messageThreads/add", nil)
	hdr := func(kv ...string) http.Header {
		h := http.Header{"Content-Type": {"application/json"}}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	good := `{"MessageThreads":[{"Id":"8d02142f-31cf-4115-90bf-ae5200c7a1ba","OriginalSender":"a","Subject":"b","CreatedUtc":"2022-03-08T12:06:50Z","UpdatedUtc":"2022-03-08T12:06:50Z","IsResolved":false}]}`
	if err := v.Check(req, 200, hdr("Request-Id", "r1"), []byte(good)); err != nil {
		t.Fatalf("a conforming response was refused: %v", err)
	}
	bad := []struct {
		name   string
		status int
		header http.Header
		body   string
	}{
		{"fractional seconds", 200, hdr("Request-Id", "r1"), strings.Replace(good, "12:06:50Z", "12:06:50.5Z", 1)},
		{"offset instead of Z", 200, hdr("Request-Id", "r1"), strings.Replace(good, "12:06:50Z", "12:06:50+00:00", 1)},
		{"missing IsResolved", 200, hdr("Request-Id", "r1"), strings.Replace(good, `,"IsResolved":false`, "", 1)},
		{"Id not a UUID", 200, hdr("Request-Id", "r1"), strings.Replace(good, "8d02142f-31cf-4115-90bf-ae5200c7a1ba", "8d02142f", 1)},
		{"no Request-Id header", 200, hdr(), good},
		{"undocumented status", 202, hdr("Request-Id", "r1"), good},
		{"error without RequestId equal to the header", 400, hdr("Request-Id", "r1"), `{"Message":"m","RequestId":"other","Details":null}`},
		{"error without Details", 400, hdr("Request-Id", "r1"), `{"Message":"m","RequestId":"r1"}`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if err := v.Check(req, tc.status, tc.header, []byte(tc.body)); err == nil {
				t.Error("accepted")
			}
		})
	}
	notFound, _ := http.NewRequest(http.MethodPost, "http://x/nope", nil)
	if err := v.Check(notFound, 404, hdr("Request-Id", "r2"), []byte(`{"Message":"m","RequestId":"r2","Details":null}`)); err != nil {
		t.Errorf("a conforming 404 was refused: %v", err)
	}
	if err := v.Check(notFound, 404, hdr("Request-Id", "r2"), []byte(`not found`)); err == nil {
		t.Error("a plain-text 404 was accepted")
	}
}

// errRecorder is a testing.TB that keeps the errors reported to it.
type errRecorder struct {
	testing.TB
	errs []string
}

func (r *errRecorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestTransportValidatesEveryResponseAndKeepsTheBody(t *testing.T) {
	const good = `{"MessageThreads":[{"Id":"8d02142f-31cf-4115-90bf-ae5200c7a1ba","OriginalSender":"a","Subject":"b","CreatedUtc":"2022-03-08T12:06:50Z","UpdatedUtc":"2022-03-08T12:06:50Z","IsResolved":false}]}`
	body := good
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Request-Id", "r1")
		_, _ = io.WriteString(w, body)
	}))
	defer ts.Close()

	rec := &errRecorder{TB: t}
	hc := &http.Client{Transport: NewValidator(t).Transport(rec, nil)}
	post := func() string {
		res, err := hc.Post(ts.URL+"/api/connector/v1/messageThreads/add", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	if got := post(); got != good || len(rec.errs) != 0 {
		t.Fatalf("conforming response: body %q, errors %v", got, rec.errs)
	}
	body = strings.Replace(good, `,"IsResolved":false`, "", 1)
	if got := post(); got != body || len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "violates the spec") {
		t.Fatalf("non-conforming response: body %q, errors %v", got, rec.errs)
	}
}

func TestCheckHoldsThePagesToTheirContract(t *testing.T) {
	v := NewValidator(t)
	get := func(path string) *http.Request {
		req, _ := http.NewRequest(http.MethodGet, "http://x"+path, nil)
		return req
	}
	rid := http.Header{"Request-Id": {"r1"}}
	for _, tc := range []struct {
		path   string
		status int
		header http.Header
		body   string
		ok     bool
	}{
		{"/healthz", 200, rid, `{"Status":"ok"}`, true},
		{"/readyz", 503, rid, `{"Status":"unavailable","Reason":"the store failed its check: closed"}`, true},
		{"/readyz", 503, rid, `{"Status":"unavailable"}`, false},
		{"/healthz", 200, rid, `{"Status":"ok","Extra":1}`, false},
		{"/healthz", 200, rid, `ok`, false},
		{"/healthz", 500, rid, `{"Status":"ok"}`, false},
		{"/healthz", 200, http.Header{}, `{"Status":"ok"}`, false},
		{"/docs", 200, rid, `<html>`, true},
		{"/docs", 200, http.Header{}, `<html>`, false},
		{"/console/threads/x", 404, rid, `<html>`, true},
		{"/consoles", 200, rid, `<html>`, false}, // not a page: the Mews error body
	} {
		if err := v.Check(get(tc.path), tc.status, tc.header, []byte(tc.body)); (err == nil) != tc.ok {
			t.Errorf("%s %d %v %q: error %v, want ok %v", tc.path, tc.status, tc.header, tc.body, err, tc.ok)
		}
	}
}

// A page of the console passes through Handler as it is written: the
// first event of a stream that does not end reaches the client.
func TestHandlerStreamsThePages(t *testing.T) {
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Request-Id", "r1")
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "event: change\n\n")
		w.(http.Flusher).Flush()
		<-release
	})
	ts := Server(t, h)
	defer close(release)
	res, err := http.Get(ts.URL + "/console/events")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	buf := make([]byte, len("event: change\n\n"))
	if _, err := io.ReadFull(res.Body, buf); err != nil || string(buf) != "event: change\n\n" {
		t.Fatalf("read %q, %v", buf, err)
	}
}
