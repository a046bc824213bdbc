package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"

	"github.com/mewsref/mewsref/gen"
	"github.com/mewsref/mewsref/internal/reqrt"
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
	decoders  map[string]func([]byte) (any, error)    // by Echo route path: the generated ones
	routes    map[string]*routers.Route               // by Echo route path, of every document
	dateTimes map[string]*dateTimes                   // by Echo route path; nil: none in the body
	options   map[*openapi3.T]*openapi3filter.Options // every violation
	first     map[*openapi3.T]*openapi3filter.Options // the first found
	bodyLimit int64
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
		options:   make(map[*openapi3.T]*openapi3filter.Options),
		first:     make(map[*openapi3.T]*openapi3filter.Options),
		bodyLimit: bodyLimit,
	}
	for _, doc := range docs {
		for path, r := range OperationRoutes(doc) {
			v.routes[path] = r
			v.dateTimes[path] = requestDateTimes(r.Operation)
			// The generated decoders are those of openapi/messaging.yaml,
			// whose paths no other document has.
			if decode := gen.RequestDecoders[path]; decode != nil {
				v.decoders[path] = decode
			}
		}
		v.options[doc] = &openapi3filter.Options{
			MultiError:         true,
			KeepValidatedValue: true,
			// The admin API's bearer token is checked before validation
			// (adminAuth); the document only describes it.
			AuthenticationFunc:      openapi3filter.NoopAuthenticationFunc,
			SchemaValidationOptions: doc.GetSchemaValidationOptions(),
		}
		first := *v.options[doc]
		first.MultiError = false
		v.first[doc] = &first
	}
	return v
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
	body, err := readBody(req.Body, req.ContentLength, v.bodyLimit)
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
	// A valid body takes one pass that stops at the first
	// violation; an invalid one that is small enough a second that
	// finds them all.
	req.Body = io.NopCloser(bytes.NewReader(body))
	in := &openapi3filter.RequestValidationInput{Request: req, Route: route, Options: v.first[route.Spec]}
	if err := openapi3filter.ValidateRequest(req.Context(), in); err != nil {
		if countValues(body, kinMaxValues+1) <= kinMaxValues {
			req.Body = io.NopCloser(bytes.NewReader(body))
			in.Options = v.options[route.Spec]
			if all := openapi3filter.ValidateRequest(req.Context(), in); all != nil {
				err = all
			}
		}
		return schemaViolation(err)
	}
	if dt := v.dateTimes[c.Path()]; dt != nil {
		if vb, ok := req.Body.(interface{ ValidatedValue() any }); ok {
			dt.canonical(vb.ValidatedValue()) // an object: changed in place
		}
	}
	return next(c)
}

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
	req, err := http.NewRequestWithContext(ctx, route.Method, path, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("validate %s: %w", path, err)
	}
	req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	in := &openapi3filter.RequestValidationInput{Request: req, Route: route, Options: v.options[route.Spec]}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		return schemaViolation(err)
	}
	return nil
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
// arrive, so that a declared size alone allocates little.
func readBody(r io.Reader, size, limit int64) ([]byte, error) {
	n := int64(512)
	if size >= 0 && size <= min(limit, presizeLimit) {
		n = size + 1 // and room for the read that sees the end
	}
	body := make([]byte, 0, n)
	lr := io.LimitedReader{R: r, N: limit + 1}
	for {
		k, err := lr.Read(body[len(body):cap(body)])
		body = body[:len(body)+k]
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
		if len(body) == cap(body) {
			body = append(body, 0)[:len(body)]
		}
	}
	if int64(len(body)) > limit {
		return nil, bodyTooLarge(limit)
	}
	return body, nil
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
func schemaViolation(err error) error {
	var leaves []*openapi3.SchemaError
	collectSchemaErrors(err, &leaves)
	list := make([]Violation, 0, len(leaves))
	for _, se := range leaves {
		path := reqrt.PointerPath(se.JSONPointer())
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
