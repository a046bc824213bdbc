package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/mewsref/mewsref/internal/spec"
	"github.com/mewsref/mewsref/mews"
)

func TestCountItems(t *testing.T) {
	for _, c := range []struct {
		body string
		max  uint64
		want uint64
	}{
		{`[]`, 10, 0},
		{` [ ] `, 10, 0},
		{`[1]`, 10, 1},
		{`["a,]"]`, 10, 1},
		{`[{"a":[1,2]},[3,4],"x\",",null]`, 10, 4},
		{`[1,2,3,4,5]`, 3, 3},
		{`:[{},{}]`, 10, 2},
	} {
		if got := countItems([]byte(c.body), 0, c.max); got != c.want {
			t.Errorf("countItems(%s, %d) = %d, want %d", c.body, c.max, got, c.want)
		}
	}
}

// chunks reads what it holds at most n bytes at a time, as a connection
// delivers a large body.
type chunks struct {
	b []byte
	n int
}

func (c *chunks) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), c.n)], c.b)
	c.b = c.b[k:]
	return k, nil
}

func TestReadBody(t *testing.T) {
	const limit = 1 << 20
	for _, c := range []struct {
		name     string
		sent     int
		declared int64 // -1: unknown
		tooLarge bool
	}{
		{"empty", 0, 0, false},
		{"small, declared", 100, 100, false},
		{"small, unknown", 100, -1, false},
		{"at presizeLimit", presizeLimit, presizeLimit, false},
		{"large, declared", 700_000, 700_000, false},
		{"large, unknown", 700_000, -1, false},
		{"less than declared", 300_000, 900_000, false},
		{"more than declared", 300_000, 1000, false},
		{"at the limit", limit, limit, false},
		{"over the limit, declared", limit + 1, limit + 1, true},
		{"over the limit, unknown", limit + 1, -1, true},
		{"over the limit, declared less", 2 * limit, 10, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			sent := make([]byte, c.sent)
			for i := range sent {
				sent[i] = byte('a' + i%26)
			}
			body, err := readBody(&chunks{sent, 32 << 10}, c.declared, limit)
			if c.tooLarge {
				if e := mewsError(err); e == nil || e.Code != mews.ETOOLARGE {
					t.Fatalf("err %v, want ETOOLARGE", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(body, sent) {
				t.Fatalf("read %d bytes, not the %d sent", len(body), len(sent))
			}
			// Doubling: never more than twice what arrived, whatever was
			// declared (and the first 512 bytes, or the read of the end).
			if cap(body) > 2*len(body)+512 {
				t.Errorf("a buffer of %d bytes for %d", cap(body), len(body))
			}
		})
	}
}

// readBody allocates no buffer just to see the end of a body that filled
// the one it had: a chunked body of 8 MiB at the 8 MiB limit had it grow
// to twice 8 MiB for the read of its end (24 MiB allocated, not 16), and
// one a byte over the limit had it grow before finding out. Doubling from
// 512 bytes allocates less than twice what arrived.
func TestReadBodyAllocatesNoBufferToSeeTheEnd(t *testing.T) {
	const limit = 1 << 20 // as at DefaultBodyLimit, in less time
	for _, c := range []struct {
		name     string
		sent     int
		declared int64 // -1: unknown
		tooLarge bool
	}{
		{"unknown, the first buffer's size", 512, -1, false},
		{"unknown, a grown buffer's size", 64 << 10, -1, false},
		{"unknown, at the limit", limit, -1, false},
		{"declared, at the limit", limit, limit, false},
		{"unknown, over the limit", limit + 1, -1, true},
		{"declared, over the limit", limit + 1, limit + 1, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			sent := bytes.Repeat([]byte{'a'}, c.sent)
			var err error
			got := allocated(func() func() {
				r := &chunks{sent, 32 << 10}
				return func() { _, err = readBody(r, c.declared, limit) }
			})
			if (err != nil) != c.tooLarge {
				t.Fatalf("err %v, want too large: %t", err, c.tooLarge)
			}
			t.Logf("%d bytes allocated to read %d (declared %d)", got, c.sent, c.declared)
			// The probe's byte, and the error's message for a body refused.
			slack := uint64(64)
			if c.tooLarge {
				slack = 1024
			}
			if most := uint64(2*min(c.sent, limit)) + slack; got > most {
				t.Errorf("%d bytes allocated to read %d (declared %d), want at most %d", got, c.sent, c.declared, most)
			}
		})
	}
}

// allocated is the fewest bytes that a run allocated, of 5 runs that setup
// prepares: what other goroutines allocate meanwhile only adds to it, and
// there is less of that at GOMAXPROCS=1 (as in testing.AllocsPerRun).
func allocated(setup func() func()) uint64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	fewest := uint64(math.MaxUint64)
	var before, after runtime.MemStats
	for range 5 {
		run := setup()
		runtime.ReadMemStats(&before)
		run()
		runtime.ReadMemStats(&after)
		fewest = min(fewest, after.TotalAlloc-before.TotalAlloc)
	}
	return fewest
}

func mewsError(err error) *mews.Error {
	var e *mews.Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// A body that decodeByItems decodes, its items all valid, is refused for a
// rule outside them as the visit of the whole value with every item
// refuses it: the visit that leaves the items out (withoutItems) finds the
// same first violation.
func TestLargeBodyOutsideItemsAsAWholeVisit(t *testing.T) {
	doc, err := spec.LoadAdmin(false)
	if err != nil {
		t.Fatal(err)
	}
	v := newValidator(DefaultBodyLimit, doc)
	const path = "/_admin/v1/data/import"
	route := v.routes[path]
	schema := requestSchema(route.Operation)
	if v.itemless[schema] == nil {
		t.Fatal("data/import's schema has no arrays to leave out")
	}
	msg := `{"MessageThreadId":"8d02142f-31cf-4115-90bf-ae5200c7a1ba","Text":"t","Sender":{"Discriminator":"Enterprise"},"CreatedUtc":"2026-11-20T18:05:00Z"}`
	thread := `{"OriginalSender":"a","Subject":"b","CreatedUtc":"2026-11-20T18:00:00Z"}`
	msgs := `"Messages":[` + strings.TrimSuffix(strings.Repeat(msg+",", 1200), ",") + `]`
	for _, body := range []string{
		`{"IntegrationId":"x","MessageThreads":[],` + msgs + `}`,
		`{"MessageThreads":[],` + msgs + `,"EnterpriseId":1}`,
		`{` + msgs + `}`,
		`{"MessageThreads":null,` + msgs + `}`,
		`{"MessageThreads":{},` + msgs + `}`,
		`{"MessageThreads":[` + thread + `],` + msgs + `,"SendWebhooks":"yes"}`,
		`{"MessageThreads":[` + thread + `],` + msgs + `,"Messages":"later"}`,
		`{"MessageThreads":[` + thread + `],` + msgs + `,"x":[1,2]}`,
	} {
		if countValues([]byte(body), kinMaxValues+1) <= kinMaxValues {
			t.Fatalf("a body of %d values or fewer: not decoded by items", kinMaxValues)
		}
		req := httptest.NewRequest(http.MethodPost, path, nil)
		_, got := v.kinValidate(req, route, []byte(body))
		val, err := decodeJSONValue([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		var want error
		if err := schema.VisitJSON(val, v.options[doc].first...); err != nil {
			want = schemaViolation(err)
		}
		if fmt.Sprint(errorText(got)) != fmt.Sprint(errorText(want)) {
			t.Errorf("%.60s…: %v, want %v", body, errorText(got), errorText(want))
		}
	}
}

// errorText is the Message and Details of a client error, or the error.
func errorText(err error) any {
	if e := mewsError(err); e != nil {
		return []any{e.Code, e.Message, e.Details}
	}
	return err
}
