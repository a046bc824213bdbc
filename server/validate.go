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
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"

	"github.com/mewsref/mewsref/mews"
)

// validator checks every API request against the embedded spec before the
// generated handler binds it: size, media type, strict JSON, then schema.
// kin-openapi keeps the value it validated on the request body and the
// generated strict handler binds that value by exact member names, so the
// handlers act on what was validated, never on a second, case-insensitive
// decode of the raw bytes.
type validator struct {
	routes    map[string]*routers.Route // by Echo route path, of every document
	dateTimes map[string]*dateTimes     // by Echo route path; nil: none in the body
	options   map[*openapi3.T]*openapi3filter.Options
	bodyLimit int64
}

// newValidator validates the requests of the operations of docs (the
// messaging API and, when enabled, the admin API), each against its own
// document and its string formats.
func newValidator(bodyLimit int64, docs ...*openapi3.T) *validator {
	v := &validator{
		routes:    make(map[string]*routers.Route),
		dateTimes: make(map[string]*dateTimes),
		options:   make(map[*openapi3.T]*openapi3filter.Options),
		bodyLimit: bodyLimit,
	}
	for _, doc := range docs {
		for path, r := range OperationRoutes(doc) {
			v.routes[path] = r
			v.dateTimes[path] = requestDateTimes(r.Operation)
		}
		v.options[doc] = &openapi3filter.Options{
			MultiError:         true,
			KeepValidatedValue: true,
			// The admin API's bearer token is checked before validation
			// (adminAuth); the document only describes it.
			AuthenticationFunc:      openapi3filter.NoopAuthenticationFunc,
			SchemaValidationOptions: doc.GetSchemaValidationOptions(),
		}
	}
	return v
}

func (v *validator) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		route, ok := v.routes[c.Path()]
		if !ok || req.Method != route.Method {
			return next(c) // Echo answers 404 or 405
		}
		if err := checkMediaType(req.Header.Get(echo.HeaderContentType)); err != nil {
			return err
		}
		body, err := readBody(req.Body, v.bodyLimit)
		if err != nil {
			return err
		}
		requestInfoFrom(req.Context()).body = body // for the request journal
		if err := checkJSON(body); err != nil {
			return err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		in := &openapi3filter.RequestValidationInput{Request: req, Route: route, Options: v.options[route.Spec]}
		if err := openapi3filter.ValidateRequest(req.Context(), in); err != nil {
			return schemaViolation(err)
		}
		if dt := v.dateTimes[c.Path()]; dt != nil {
			if vb, ok := req.Body.(interface{ ValidatedValue() any }); ok {
				dt.canonical(vb.ValidatedValue()) // an object: changed in place
			}
		}
		return next(c)
	}
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
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt != echo.MIMEApplicationJSON {
		return mews.Errorf(mews.EMEDIATYPE, "Content-Type must be application/json.")
	}
	return nil
}

// readBody reads the whole body, refusing more than limit bytes.
func readBody(r io.Reader, limit int64) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, bodyTooLarge(limit)
		}
		return nil, mews.Errorf(mews.EINVALID, "The request body could not be read.")
	}
	if int64(len(body)) > limit {
		return nil, bodyTooLarge(limit)
	}
	return body, nil
}

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

// Violation is one broken schema rule, as reported in an error's Details.
type Violation struct {
	Property string `json:"Property"`
	Message  string `json:"Message"`
}

// schemaViolation turns kin-openapi's error tree into one client error whose
// Message names the first broken rule by property path; Details lists all.
// kin-openapi's own texts embed schema dumps and are never shown.
func schemaViolation(err error) error {
	var leaves []*openapi3.SchemaError
	collectSchemaErrors(err, &leaves)
	seen := map[string]bool{}
	var list []Violation
	for _, se := range leaves {
		path := propertyPath(se.JSONPointer())
		msg := describe(path, se)
		if !seen[msg] {
			seen[msg] = true
			list = append(list, Violation{Property: path, Message: msg})
		}
	}
	if len(list) == 0 {
		return mews.Errorf(mews.EINVALID, "The request body does not match the schema of the operation.")
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].Property < list[j].Property })
	e := mews.Errorf(mews.EINVALID, "%s", list[0].Message)
	e.Details = list
	return e
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

// propertyPath renders a JSON pointer as the client wrote it:
// ["Messages","2","Text"] is Messages[2].Text.
func propertyPath(pointer []string) string {
	var b strings.Builder
	for _, seg := range pointer {
		if _, err := strconv.Atoi(seg); err == nil {
			b.WriteString("[" + seg + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(seg)
	}
	return b.String()
}

func describe(path string, se *openapi3.SchemaError) string {
	s := se.Schema
	subject := path
	if subject == "" {
		subject = "The request body"
	}
	switch se.SchemaField {
	case "required":
		return subject + " is required."
	case "nullable":
		return subject + " must not be null."
	case "type":
		return subject + " must be " + typeName(s) + "."
	case "minLength":
		if s.MinLength == 1 {
			return subject + " must not be empty."
		}
		return fmt.Sprintf("%s must be at least %d characters long.", subject, s.MinLength)
	case "maxLength":
		return fmt.Sprintf("%s must be at most %d characters long.", subject, *s.MaxLength)
	case "minimum", "maximum":
		switch {
		case s.Min != nil && s.Max != nil:
			return fmt.Sprintf("%s must be between %s and %s.", subject, num(*s.Min), num(*s.Max))
		case s.Min != nil:
			return fmt.Sprintf("%s must be at least %s.", subject, num(*s.Min))
		default:
			return fmt.Sprintf("%s must be at most %s.", subject, num(*s.Max))
		}
	case "minItems", "maxItems":
		if s.MaxItems != nil {
			return fmt.Sprintf("%s must contain between %d and %d items.", subject, s.MinItems, *s.MaxItems)
		}
		return fmt.Sprintf("%s must contain at least %d items.", subject, s.MinItems)
	case "format":
		switch s.Format {
		case "uuid":
			return subject + " must be a UUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6."
		case "date-time":
			return subject + " must be an RFC 3339 date-time such as 2022-03-07T16:09:45Z."
		}
		return fmt.Sprintf("%s must be of format %s.", subject, s.Format)
	case "enum":
		vals := make([]string, len(s.Enum))
		for i, v := range s.Enum {
			vals[i] = fmt.Sprint(v)
		}
		return fmt.Sprintf("%s must be one of %s.", subject, strings.Join(vals, ", "))
	}
	return subject + " is invalid."
}

func typeName(s *openapi3.Schema) string {
	if s.Type == nil || len(s.Type.Slice()) == 0 {
		return "a valid value"
	}
	switch t := s.Type.Slice()[0]; t {
	case openapi3.TypeInteger:
		return "an integer"
	case openapi3.TypeObject:
		return "an object"
	case openapi3.TypeArray:
		return "an array"
	default:
		return "a " + t
	}
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
