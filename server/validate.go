package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"mime"
	"net/http"
	"strconv"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"

	"github.com/mewsref/mewsref/gen"
	"github.com/mewsref/mewsref/internal/reqrt"
	"github.com/mewsref/mewsref/internal/spec"
	"github.com/mewsref/mewsref/mews"
)

// validator checks every API request against the embedded spec before the
// generated handler binds it: size, media type, strict JSON, then schema.
//
// The operations of the messaging API are decoded by the decoders generated
// from the spec (gen.RequestDecoders, internal/reqgen): one pass from the
// bytes to the generated request type, which the binder hands to the
// handler (decodedBody). The admin API's are validated by kin-openapi,
// which keeps the value it validated on the request body; the binder binds
// that value by exact member names. Either way the handlers act on what was
// validated, never on a second, case-insensitive decode of the raw bytes.
type validator struct {
	decoders  map[string]func([]byte) (any, error)  // by Echo route path: the generated ones
	routes    map[string]*routers.Route             // by Echo route path, of every document
	dateTimes map[string]*dateTimes                 // by Echo route path; nil: none in the body
	limits    map[string]int64                      // by Echo route path: the body limit of each operation
	itemless  map[*openapi3.Schema]*openapi3.Schema // by request schema, where it has arrays: withoutItems
	options   map[*openapi3.T]*docOptions
	bodyLimit int64
}

// docOptions are how kin-openapi validates the operations of a document.
type docOptions struct {
	all, first []openapi3.SchemaValidationOption // every violation; the first found
	params     *openapi3filter.Options           // the parameters, the body left out
}

// kinMaxValues is the most JSON values in a body (see countValues) of an
// operation validated by kin-openapi that is refused with every violation
// (Details: the first reqrt.MaxViolations by path). kin-openapi builds an
// error of about a kilobyte per violation before any can be dropped, and a
// body can break a rule per value and more: a larger one is refused with
// the first violation kin-openapi finds.
const kinMaxValues = 4096

// newValidator validates the requests of the operations of docs (the
// messaging API and, when enabled, the admin API), each against its own
// document and its string formats.
func newValidator(bodyLimit int64, docs ...*openapi3.T) *validator {
	v := &validator{
		decoders:  make(map[string]func([]byte) (any, error)),
		routes:    make(map[string]*routers.Route),
		dateTimes: make(map[string]*dateTimes),
		limits:    make(map[string]int64),
		itemless:  make(map[*openapi3.Schema]*openapi3.Schema),
		options:   make(map[*openapi3.T]*docOptions),
		bodyLimit: bodyLimit,
	}
	for _, doc := range docs {
		for path, r := range spec.OperationRoutes(doc) {
			v.routes[path] = r
			v.dateTimes[path] = requestDateTimes(r.Operation)
			v.limits[path] = min(operationBodyLimit(r.Operation), bodyLimit)
			if s := requestSchema(r.Operation); s != nil {
				if w := withoutItems(s); w != nil {
					v.itemless[s] = w
				}
			}
			// The generated decoders are those of openapi/messaging.yaml,
			// whose paths no other document has.
			if decode := gen.RequestDecoders[path]; decode != nil {
				v.decoders[path] = decode
			}
		}
		// As openapi3filter.ValidateRequestBody visits a request body.
		first := []openapi3.SchemaValidationOption{openapi3.VisitAsRequest(), openapi3.DefaultsSet(func() {})}
		first = append(first, doc.GetSchemaValidationOptions()...)
		if doc.IsOpenAPI31OrLater() {
			first = append(first, openapi3.EnableJSONSchema2020())
		}
		v.options[doc] = &docOptions{
			first: first,
			all:   append(first[:len(first):len(first)], openapi3.MultiErrors()),
			params: &openapi3filter.Options{
				MultiError:         true,
				ExcludeRequestBody: true,
				// The admin API's bearer token is checked before validation
				// (adminAuth); the document only describes it.
				AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
			},
		}
	}
	return v
}

// bodyLimitExtension is the largest request body of an operation in bytes,
// where its requestBody states one; the server's limit applies to all.
const bodyLimitExtension = "x-mewsref-body-limit"

// operationBodyLimit is the limit that op states (bodyLimitExtension), or
// none (the largest int64).
func operationBodyLimit(op *openapi3.Operation) int64 {
	if op.RequestBody == nil || op.RequestBody.Value == nil {
		return math.MaxInt64
	}
	switch n := op.RequestBody.Value.Extensions[bodyLimitExtension].(type) {
	case float64:
		if n >= 1 {
			return int64(n)
		}
	case json.Number:
		if i, err := n.Int64(); err == nil && i >= 1 {
			return i
		}
	}
	return math.MaxInt64
}

// validate checks the request of c, as its route's operation says, and
// calls next with the body replaced by what it validated.
func (v *validator) validate(c echo.Context, next echo.HandlerFunc) error {
	req := c.Request()
	route, ok := v.routes[c.Path()]
	if !ok || req.Method != route.Method {
		return next(c) // Echo answers 404 or 405
	}
	if err := checkMediaType(req.Header.Get(echo.HeaderContentType)); err != nil {
		return err
	}
	body, err := readBody(req.Body, req.ContentLength, v.limits[c.Path()])
	if err != nil {
		return err
	}
	requestInfoFrom(req.Context()).body = body // for the request journal
	if decode := v.decoders[c.Path()]; decode != nil {
		val, err := decode(body)
		if err != nil {
			return decodeError(body, err)
		}
		db := decodedBodyOf(req.Context())
		db.value = val
		db.Reset(body)
		req.Body = db
		return next(c)
	}
	if err := checkJSON(body); err != nil {
		return err
	}
	val, err := v.kinValidate(req, route, body)
	if err != nil {
		return err
	}
	if dt := v.dateTimes[c.Path()]; dt != nil {
		dt.canonical(val) // an object: changed in place
	}
	vb := &validatedBody{value: val}
	vb.Reset(body)
	req.Body = vb
	return next(c)
}

// kinValidate validates the strict JSON body of req, an operation of route
// without a generated decoder, with kin-openapi, and returns the value it
// validated (what the binder binds). The body is decoded once, as
// kin-openapi decodes it, and visited by its schema in a pass that stops
// at the first violation; an invalid body of at most kinMaxValues values
// is visited again, the same value, for every violation. A larger body
// is decoded an item at a time in the arrays of its object's members,
// each item visited as it is read: the first invalid item, or an item past
// maxItems, ends the decode, so that an invalid body costs about its size
// whatever it holds (kin-openapi's own path decoded it whole first: some
// 50 times its size for millions of empty objects). The visit of the whole
// then leaves out the items, which were all visited, with the same
// options: it finds the violation that a visit of everything would find
// first, as every other rule is visited in the same order.
func (v *validator) kinValidate(req *http.Request, route *routers.Route, body []byte) (any, error) {
	opts := v.options[route.Spec]
	if len(route.Operation.Parameters) > 0 || len(route.PathItem.Parameters) > 0 {
		r := req.WithContext(req.Context())
		r.Body = http.NoBody // the security check reads it whole otherwise
		in := &openapi3filter.RequestValidationInput{Request: r, Route: route, Options: opts.params}
		if err := openapi3filter.ValidateRequest(req.Context(), in); err != nil {
			return nil, schemaViolation(err)
		}
	}
	schema := requestSchema(route.Operation)
	if schema == nil {
		return nil, nil
	}
	small := countValues(body, kinMaxValues+1) <= kinMaxValues
	var val any
	var err error
	visit := schema
	if small {
		val, err = decodeJSONValue(body)
	} else {
		val, err = decodeByItems(body, schema, opts.first)
		if w := v.itemless[schema]; w != nil && valueStart(body, 0) == '{' {
			visit = w // decodeByItems decoded an object: its items are visited
		}
	}
	if err != nil {
		return nil, err
	}
	if err := visit.VisitJSON(val, opts.first...); err != nil {
		if small {
			if all := schema.VisitJSON(val, opts.all...); all != nil {
				err = all
			}
		}
		return nil, schemaViolation(err)
	}
	return val, nil
}

// requestSchema is the schema of op's JSON request body; nil: none.
func requestSchema(op *openapi3.Operation) *openapi3.Schema {
	if op.RequestBody == nil || op.RequestBody.Value == nil {
		return nil
	}
	mt := op.RequestBody.Value.Content.Get(echo.MIMEApplicationJSON)
	if mt == nil || mt.Schema == nil {
		return nil
	}
	return mt.Schema.Value
}

// decodeJSONValue decodes the strict JSON body as kin-openapi does (numbers
// as json.Number).
func decodeJSONValue(body []byte) (any, error) {
	var val any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&val); err != nil {
		return nil, fmt.Errorf("decode the request body: %w", err)
	}
	return val, nil
}

// decodeByItems decodes the strict JSON body as decodeJSONValue does, but
// the arrays of the members of an object body an item at a time: each
// item is visited by the items' schema of its member (opts) as it is read,
// and the first invalid one, or the first past maxItems, is the error.
func decodeByItems(body []byte, s *openapi3.Schema, opts []openapi3.SchemaValidationOption) (any, error) {
	if valueStart(body, 0) != '{' {
		return decodeJSONValue(body)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	fail := func(err error) (any, error) { return nil, fmt.Errorf("decode the request body: %w", err) }
	if _, err := dec.Token(); err != nil { // {
		return fail(err)
	}
	obj := make(map[string]any)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return fail(err)
		}
		name, _ := t.(string)
		var arr *openapi3.Schema
		if p := s.Properties[name]; p != nil && p.Value != nil && p.Value.Items != nil && p.Value.Items.Value != nil {
			arr = p.Value
		}
		if arr == nil || valueStart(body, dec.InputOffset()) != '[' {
			var val any
			if err := dec.Decode(&val); err != nil {
				return fail(err)
			}
			obj[name] = val
			continue
		}
		// As kin-openapi, the number of items before the items.
		if arr.MaxItems != nil && countItems(body, dec.InputOffset(), *arr.MaxItems+1) > *arr.MaxItems {
			return nil, violations([]Violation{{Property: name, Message: reqrt.Subject(name) + reqrt.ItemsText(arr.MinItems, arr.MaxItems)}})
		}
		if _, err := dec.Token(); err != nil { // [
			return fail(err)
		}
		items := []any{}
		for i := 0; dec.More(); i++ {
			var item any
			if err := dec.Decode(&item); err != nil {
				return fail(err)
			}
			if err := arr.Items.Value.VisitJSON(item, opts...); err != nil {
				return nil, schemaViolationAt([]string{name, strconv.Itoa(i)}, err)
			}
			items = append(items, item)
		}
		if _, err := dec.Token(); err != nil { // ]
			return fail(err)
		}
		obj[name] = items
	}
	return obj, nil
}

// withoutItems is s, an object's schema, with no items in the schemas of
// its members that decodeByItems decodes an item at a time; nil if it has
// none. Everything else is s's own: a violation that the visit of a value
// finds outside those items is reported as the visit with s reports it.
func withoutItems(s *openapi3.Schema) *openapi3.Schema {
	var props openapi3.Schemas
	for name, p := range s.Properties {
		if p == nil || p.Value == nil || p.Value.Items == nil || p.Value.Items.Value == nil {
			continue
		}
		if props == nil {
			props = maps.Clone(s.Properties)
		}
		arr := *p.Value
		arr.Items = nil
		ref := *p
		ref.Value = &arr
		props[name] = &ref
	}
	if props == nil {
		return nil
	}
	out := *s
	out.Properties = props
	return &out
}

// valueStart is the first byte of the JSON value at or after body[off],
// past white space and a member's colon; 0 at the end.
func valueStart(body []byte, off int64) byte {
	for i := off; i < int64(len(body)); i++ {
		switch c := body[i]; c {
		case ' ', '\t', '\n', '\r', ':':
		default:
			return c
		}
	}
	return 0
}

// countItems is the number of items of the array that starts at or after
// body[off] (past white space and a colon), in valid JSON, counted up to
// max: its commas, and one for the first item.
func countItems(body []byte, off int64, max uint64) uint64 {
	var n uint64
	depth := 0
	for i := off; i < int64(len(body)) && n < max; i++ {
		c := body[i]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ':' {
			continue
		}
		if depth == 1 && n == 0 && c != ']' {
			n = 1
		}
		switch c {
		case '"':
			for i++; i < int64(len(body)) && body[i] != '"'; i++ {
				if body[i] == '\\' {
					i++
				}
			}
		case '[', '{':
			depth++
		case ']', '}':
			if depth--; depth == 0 {
				return n
			}
		case ',':
			if depth == 1 {
				n++
			}
		}
	}
	return n
}

// validatedBody is the request body of an operation validated by
// kin-openapi: the bytes (for whoever reads the body) and the value that
// was validated, which the binder binds.
type validatedBody struct {
	bytes.Reader
	value any
}

func (*validatedBody) Close() error { return nil }

// ValidatedValue is the value that was validated.
func (b *validatedBody) ValidatedValue() any { return b.value }

// check validates body as the request body of the operation at path, as
// the middleware validates a request that arrives over HTTP: for callers in
// the process (the console) that call the operations' methods directly.
func (v *validator) check(ctx context.Context, path string, body any) error {
	route, ok := v.routes[path]
	if !ok {
		return fmt.Errorf("validate: no operation at %s", path)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("validate %s: %w", path, err)
	}
	req, err := http.NewRequestWithContext(ctx, route.Method, path, http.NoBody)
	if err != nil {
		return fmt.Errorf("validate %s: %w", path, err)
	}
	_, err = v.kinValidate(req, route, b)
	return err
}

func checkMediaType(contentType string) error {
	if contentType == echo.MIMEApplicationJSON {
		return nil // as every client sends it: no parameters to parse
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt != echo.MIMEApplicationJSON {
		return mews.Errorf(mews.EMEDIATYPE, "Content-Type must be application/json.")
	}
	return nil
}

// readBody reads the whole body, refusing more than limit bytes. size is
// the request's ContentLength (-1: unknown): a body of a known size up to
// presizeLimit is read into one buffer of that size, which io.ReadAll
// would have grown from 512 bytes a few times; larger ones grow as they
// arrive (grown), so that a declared size alone allocates little.
func readBody(r io.Reader, size, limit int64) ([]byte, error) {
	n := int64(512)
	if size >= 0 && size <= min(limit, presizeLimit) {
		n = size + 1 // and room for the read that sees the end
	}
	body := make([]byte, 0, n)
	lr := io.LimitedReader{R: r, N: limit + 1}
	var probe *[1]byte
	for {
		var k int
		var err error
		if len(body) < cap(body) {
			k, err = lr.Read(body[len(body):cap(body)])
			body = body[:len(body)+k]
		} else {
			// Full: one byte first, and a larger buffer only if it came.
			// A body that filled the buffer exactly (a chunked one of 8
			// MiB at the 8 MiB limit) ends here without a buffer twice
			// as large just to see its end: 16 MiB allocated, not 24.
			if probe == nil {
				probe = new([1]byte) // Read makes it escape: made only when needed
			}
			k, err = lr.Read(probe[:])
			if int64(len(body)+k) > limit {
				return nil, bodyTooLarge(limit)
			}
			if k > 0 {
				body = append(grown(body, size, limit), probe[:k]...)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return nil, bodyTooLarge(limit)
			}
			return nil, mews.Errorf(mews.EINVALID, "The request body could not be read.")
		}
	}
	if int64(len(body)) > limit {
		return nil, bodyTooLarge(limit)
	}
	return body, nil
}

// grown is full with room for more (a byte at least): twice its capacity,
// but no more than the declared size (and the read that sees the end) if
// the body has not passed it, nor than the limit (and the byte that passes
// it). append grows a buffer of megabytes by a quarter at a time: its
// copies of an 8 MiB body came to 40 MiB, doubling's to 16 MiB, and no
// more than twice what arrived.
func grown(full []byte, size, limit int64) []byte {
	n := 2 * int64(cap(full))
	if size >= int64(len(full)) {
		n = min(n, size+1)
	}
	n = max(min(n, limit+1), int64(cap(full))+1)
	b := make([]byte, len(full), n)
	copy(b, full)
	return b
}

// presizeLimit is the largest body that readBody reads into a buffer of
// its declared size at once.
const presizeLimit = 64 << 10

func bodyTooLarge(limit int64) error {
	return mews.Errorf(mews.ETOOLARGE, "The request body is larger than %d bytes.", limit)
}

// checkJSON refuses anything but exactly one strict JSON value: no comments,
// no trailing commas, nothing after the value.
func checkJSON(body []byte) error {
	if json.Valid(body) {
		return nil
	}
	e := mews.Errorf(mews.EINVALID, "Invalid JSON")
	var v any
	switch err := json.Unmarshal(body, &v); {
	case len(bytes.TrimSpace(body)) == 0:
		e.Details = "The request body is empty."
	case err != nil:
		e.Details = err.Error()
	}
	return e
}

// countValues is at least the number of values in the valid JSON body
// (one, one more for each container's first item and for each comma),
// counted up to max.
func countValues(body []byte, max int) int {
	n := 1
	for i := 0; i < len(body) && n < max; i++ {
		switch body[i] {
		case '"':
			for i++; i < len(body) && body[i] != '"'; i++ {
				if body[i] == '\\' {
					i++
				}
			}
		case '[', '{', ',':
			n++
		}
	}
	return n
}

// Violation is one broken schema rule, as reported in an error's Details.
type Violation = reqrt.Violation

// schemaViolation turns kin-openapi's error tree into one client error whose
// Message names the first broken rule by property path; Details lists all.
// kin-openapi's own texts embed schema dumps and are never shown.
func schemaViolation(err error) error { return schemaViolationAt(nil, err) }

// schemaViolationAt is schemaViolation for the error of the value at the
// JSON pointer at in the body.
func schemaViolationAt(at []string, err error) error {
	var leaves []*openapi3.SchemaError
	collectSchemaErrors(err, &leaves)
	list := make([]Violation, 0, len(leaves))
	for _, se := range leaves {
		path := reqrt.PointerPath(append(at[:len(at):len(at)], se.JSONPointer()...))
		list = append(list, Violation{Property: path, Message: describe(path, se)})
	}
	return violations(list)
}

// violations is the error of a body that breaks the rules of list, in the
// order of reqrt.Collect: the first names the Message.
func violations(list []Violation) error {
	if len(list) == 0 {
		return mews.Errorf(mews.EINVALID, "The request body does not match the schema of the operation.")
	}
	list = reqrt.Collect(list)
	e := mews.Errorf(mews.EINVALID, "%s", list[0].Message)
	e.Details = list
	return e
}

// errUnbindable answers a body that is valid against the schema but does
// not fit the generated request type (see reqrt.ErrUnbindable).
func errUnbindable() error {
	return mews.Errorf(mews.EINVALID, "The request body does not match the schema of the operation.")
}

// decodeError turns the refusal of a generated request decoder into the
// client error, with the texts of the kin-openapi path.
func decodeError(body []byte, err error) error {
	var (
		syntax *reqrt.SyntaxError
		dup    *reqrt.DuplicateError
		schema *reqrt.SchemaError
	)
	switch {
	case errors.As(err, &syntax):
		if e := checkJSON(body); e != nil {
			return e // encoding/json's words for what is wrong
		}
		return mews.Errorf(mews.EINVALID, "Invalid JSON")
	case errors.As(err, &dup):
		e := mews.Errorf(mews.EINVALID, "Invalid JSON")
		where := "the request body"
		if dup.Object != "" {
			where = dup.Object
		}
		e.Details = fmt.Sprintf("The member name %s appears more than once in %s.", strconv.Quote(dup.Name), where)
		return e
	case errors.As(err, &schema):
		return violations(schema.Violations)
	case errors.Is(err, reqrt.ErrUnbindable):
		return errUnbindable()
	}
	return fmt.Errorf("decode the request body: %w", err)
}

// decodedBody is the request body of an operation decoded by its generated
// decoder: the bytes (for whoever reads the body) and the value, which the
// binder hands to the handler.
type decodedBody struct {
	bytes.Reader
	value any
}

func (*decodedBody) Close() error { return nil }

// decodedBodyOf is the place for the decoded body of the request of ctx:
// in its requestContext (middleware.go), which begin allocated anyway.
func decodedBodyOf(ctx context.Context) *decodedBody {
	if rc, ok := ctx.(*requestContext); ok {
		return &rc.body
	}
	return &decodedBody{}
}

func collectSchemaErrors(err error, out *[]*openapi3.SchemaError) {
	switch e := err.(type) {
	case nil:
	case openapi3.MultiError:
		for _, inner := range e {
			collectSchemaErrors(inner, out)
		}
	case *openapi3filter.RequestError:
		collectSchemaErrors(e.Err, out)
	case *openapi3.SchemaError:
		// allOf, oneOf and anyOf report their members' errors as the origin.
		var inner openapi3.MultiError
		if e.Origin != nil && errors.As(e.Origin, &inner) {
			collectSchemaErrors(inner, out)
			return
		}
		*out = append(*out, e)
	default:
		var se *openapi3.SchemaError
		if errors.As(err, &se) {
			collectSchemaErrors(se, out)
		}
	}
}

func describe(path string, se *openapi3.SchemaError) string {
	s := se.Schema
	return reqrt.Subject(path) + ending(se.SchemaField, s)
}

// ending is the end of the message of a broken rule of s (reqrt's texts).
func ending(field string, s *openapi3.Schema) string {
	switch field {
	case "required":
		return reqrt.TextRequired
	case "nullable":
		return reqrt.TextNotNull
	case "type":
		t := ""
		if s.Type != nil && len(s.Type.Slice()) > 0 {
			t = s.Type.Slice()[0]
		}
		return reqrt.TypeText(t)
	case "minLength":
		return reqrt.MinLengthText(s.MinLength)
	case "maxLength":
		return reqrt.MaxLengthText(*s.MaxLength)
	case "minimum", "maximum":
		return reqrt.RangeText(s.Min, s.Max)
	case "minItems", "maxItems":
		return reqrt.ItemsText(s.MinItems, s.MaxItems)
	case "format":
		return reqrt.FormatText(s.Format)
	case "enum":
		vals := make([]string, len(s.Enum))
		for i, v := range s.Enum {
			vals[i] = fmt.Sprint(v)
		}
		return reqrt.EnumText(vals)
	}
	return reqrt.TextInvalid
}
