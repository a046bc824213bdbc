// Command reqgen writes the request decoders of the spec's operations
// (gen/requests.gen.go): for each operation with a JSON request body, one
// pass from the body's bytes to the generated request body type that checks
// strict JSON, refuses duplicate member names, matches member names
// exactly and checks every rule of the schema, with the same violations as
// the kin-openapi path of the server (server/validate.go). The runtime it
// calls is internal/reqrt.
//
// It implements the schema keywords that the request schemas use and
// refuses every other one (an allow-list: implemented), naming the keyword
// and where the schema is, so that a change of the spec that it cannot
// decode fails `go generate` instead of being let through unchecked.
//
//	go run ./internal/reqgen -spec openapi/messaging.yaml -out gen/requests.gen.go
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/mewsref/mewsref/internal/reqrt"
)

func main() {
	spec := flag.String("spec", "", "the OpenAPI document")
	out := flag.String("out", "", "the Go file to write")
	pkg := flag.String("package", "gen", "the package of the file")
	flag.Parse()
	if *spec == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	src, err := generate(*spec, *pkg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "reqgen:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "reqgen:", err)
		os.Exit(1)
	}
}

type kind int

const (
	kObject kind = iota
	kArray
	kString
	kInteger
	kBoolean
)

// node is what the decoder checks of one value.
type node struct {
	kind     kind
	nullable bool
	typeText string // the ending of a value of the wrong type
	goType   string // of the value (objects: the struct type)

	// objects
	props       []*prop
	closed      bool // additionalProperties: false
	schemaNames string

	// arrays
	items              *node
	minItems           uint64
	maxItems           *uint64
	itemsText          string
	minLength          uint64
	maxLength          *uint64
	format             string
	minimum, maximum   *float64
	bits               int    // integers: the size of the Go type
	intFormat          string // integers: int32 or int64, checked as kin-openapi does
	rangeText          string
	minLenText, maxLen string
}

type prop struct {
	name     string
	field    string
	node     *node
	required bool
	pointer  bool
}

var goName = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)

type generator struct {
	objects map[string]*node // by Go type
	imports map[string]bool
}

func generate(specPath, pkg string) ([]byte, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(specPath)
	if err != nil {
		return nil, err
	}
	g := &generator{objects: map[string]*node{}, imports: map[string]bool{}}
	type op struct {
		path, method, id, name string
		root                   *node
	}
	var ops []op
	paths := doc.Paths.InMatchingOrder()
	sort.Strings(paths)
	for _, path := range paths {
		item := doc.Paths.Value(path)
		methods := make([]string, 0)
		for m := range item.Operations() {
			methods = append(methods, m)
		}
		sort.Strings(methods)
		for _, m := range methods {
			o := item.GetOperation(m)
			if o.RequestBody == nil || o.RequestBody.Value == nil {
				continue
			}
			if strings.ContainsAny(path, "{}") {
				return nil, fmt.Errorf("%s: path parameters are not implemented", path)
			}
			if len(item.Parameters) > 0 {
				return nil, fmt.Errorf("%s: path item parameters are not implemented", path)
			}
			for _, p := range o.Parameters {
				s := p.Value.Schema
				// The decoders replace the kin-openapi validation of the
				// whole request: a parameter must need none.
				if p.Value.In != "header" || p.Value.Required || s == nil || s.Value == nil ||
					!s.Value.Type.Is("string") || s.Value.Format != "" || s.Value.Pattern != "" ||
					s.Value.MinLength != 0 || s.Value.MaxLength != nil || len(s.Value.Enum) > 0 {
					return nil, fmt.Errorf("%s: parameter %s: only optional header strings without constraints are implemented", o.OperationID, p.Value.Name)
				}
			}
			if (o.Security != nil && len(*o.Security) > 0) || (o.Security == nil && len(doc.Security) > 0) {
				return nil, fmt.Errorf("%s: security requirements are not implemented", o.OperationID)
			}
			mt := o.RequestBody.Value.Content.Get("application/json")
			if mt == nil || len(o.RequestBody.Value.Content) != 1 {
				return nil, fmt.Errorf("%s: only an application/json request body is implemented", o.OperationID)
			}
			root, err := g.build(mt.Schema, o.OperationID,
				"#/paths/"+pointerToken(path)+"/"+strings.ToLower(m)+"/requestBody/content/application~1json/schema")
			if err != nil {
				return nil, err
			}
			if root.kind != kObject || root.nullable {
				return nil, fmt.Errorf("%s: the request body must be a non-nullable object", o.OperationID)
			}
			ops = append(ops, op{path: path, method: m, id: o.OperationID, name: exported(o.OperationID), root: root})
		}
	}

	var b bytes.Buffer
	g.imports["github.com/mewsref/mewsref/internal/reqrt"] = true
	var body bytes.Buffer
	w := &writer{b: &body, g: g}
	for _, o := range ops {
		fmt.Fprintf(&body, "\n// Decode%sRequest decodes the JSON request body of %s (%s %s)\n", o.name, o.id, o.method, o.path)
		fmt.Fprintf(&body, "// in one pass and checks it against its schema; the error is a\n// *reqrt.SyntaxError, *reqrt.DuplicateError, *reqrt.SchemaError or\n// reqrt.ErrUnbindable.\n")
		fmt.Fprintf(&body, "func Decode%sRequest(body []byte) (*%sJSONRequestBody, error) {\n", o.name, o.name)
		fmt.Fprintf(&body, "d := reqrt.NewDecoder(body)\nout := new(%sJSONRequestBody)\n", o.name)
		fmt.Fprintf(&body, "switch d.Peek() {\ncase reqrt.Object:\ndecode%s(&d, nil, out)\n", o.root.goType)
		fmt.Fprintf(&body, "case reqrt.Null:\nd.Violate(nil, %q)\nd.Skip(nil)\n", reqrt.TextNotNull)
		fmt.Fprintf(&body, "default:\nd.Violate(nil, %q)\nd.Skip(nil)\n}\n", o.root.typeText)
		fmt.Fprintf(&body, "if err := d.Finish(); err != nil {\nreturn nil, err\n}\nreturn out, nil\n}\n")
	}
	body.WriteString("\n// RequestDecoders are the request decoders by the path of their operation.\n")
	body.WriteString("var RequestDecoders = map[string]func(body []byte) (any, error){\n")
	for _, o := range ops {
		fmt.Fprintf(&body, "%q: func(body []byte) (any, error) {\nv, err := Decode%sRequest(body)\nif err != nil {\nreturn nil, err\n}\nreturn v, nil\n},\n", o.path, o.name)
	}
	body.WriteString("}\n")
	body.WriteString("\n// BindDecoded stores src, a value returned by a request decoder, in dst, a\n// pointer to its type; false when dst is not.\n")
	body.WriteString("func BindDecoded(src, dst any) bool {\nswitch v := src.(type) {\n")
	seenType := map[string]bool{}
	for _, o := range ops {
		if seenType[o.root.goType] {
			continue
		}
		seenType[o.root.goType] = true
		fmt.Fprintf(&body, "case *%s:\nif p, ok := dst.(*%s); ok {\n*p = *v\nreturn true\n}\n", o.root.goType, o.root.goType)
	}
	body.WriteString("}\nreturn false\n}\n")

	names := make([]string, 0, len(g.objects))
	for n := range g.objects {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		w.object(g.objects[n])
	}

	fmt.Fprintf(&b, "// Code generated by internal/reqgen from %s. DO NOT EDIT.\n\npackage %s\n\nimport (\n", strings.TrimPrefix(specPath, "../"), pkg)
	imps := make([]string, 0, len(g.imports))
	for i := range g.imports {
		imps = append(imps, i)
	}
	// The standard library first, as goimports groups them.
	sort.Slice(imps, func(i, j int) bool {
		si, sj := !strings.Contains(imps[i], "."), !strings.Contains(imps[j], ".")
		if si != sj {
			return si
		}
		return imps[i] < imps[j]
	})
	std := true
	for _, i := range imps {
		if std && strings.Contains(i, ".") {
			std = false
			b.WriteString("\n")
		}
		// Only what the code names (a date-time is assigned, not declared).
		if q := i[strings.LastIndex(i, "/")+1:] + "."; q != "reqrt." && !bytes.Contains(body.Bytes(), []byte(q)) &&
			!(q == "types." && bytes.Contains(body.Bytes(), []byte("openapi_types."))) {
			continue
		}
		if i == "github.com/oapi-codegen/runtime/types" {
			fmt.Fprintf(&b, "openapi_types %q\n", i)
			continue
		}
		fmt.Fprintf(&b, "%q\n", i)
	}
	b.WriteString(")\n")
	b.Write(body.Bytes())
	src, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("format the output: %w\n%s", err, b.Bytes())
	}
	return src, nil
}

func exported(id string) string {
	if id == "" {
		return id
	}
	return strings.ToUpper(id[:1]) + id[1:]
}

func refName(ref string) string {
	const prefix = "#/components/schemas/"
	if !strings.HasPrefix(ref, prefix) {
		return ""
	}
	return ref[len(prefix):]
}

// The schema keywords that the decoders implement, and those that change
// nothing that a decoder checks (annotations). Every other keyword that a
// schema sets fails generation: an allow-list, so that a keyword new to
// the spec, or to kin-openapi, cannot pass unchecked.
var implemented = map[string]bool{
	"type": true, "format": true, "nullable": true, "allOf": true,
	"properties": true, "required": true, "additionalProperties": true, "items": true,
	"minItems": true, "maxItems": true, "minLength": true, "maxLength": true,
	"minimum": true, "maximum": true,
	// annotations
	"title": true, "description": true, "example": true, "examples": true,
	"deprecated": true, "externalDocs": true, "$comment": true,
}

var schemaType = reflect.TypeOf(openapi3.Schema{})

// keywords are the keywords that s sets, in the order of openapi3.Schema's
// fields; Extensions (x-…) and Origin are not keywords.
func keywords(s *openapi3.Schema) []string {
	v := reflect.ValueOf(s).Elem()
	var out []string
	for i := 0; i < schemaType.NumField(); i++ {
		f := schemaType.Field(i)
		if f.Name == "Extensions" || f.Name == "Origin" || v.Field(i).IsZero() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			name = f.Name // Always: a boolean schema
		}
		out = append(out, name)
	}
	return out
}

// unsupported names a keyword of s that the decoders do not implement, or
// a use of one that they do not.
func unsupported(s *openapi3.Schema) string {
	for _, k := range keywords(s) {
		if !implemented[k] {
			return "keyword " + k
		}
	}
	switch {
	case s.AdditionalProperties.Schema != nil:
		return "additionalProperties with a schema"
	case s.Items != nil && s.Type != nil && !s.Type.Is("array"):
		return "items without type array"
	}
	return ""
}

// build is the node of the schema of ref, at where (the operation and the
// property path) and at loc in the document (a JSON pointer).
func (g *generator) build(ref *openapi3.SchemaRef, where, loc string) (*node, error) {
	if ref == nil || ref.Value == nil {
		return nil, fmt.Errorf("%s: no schema", where)
	}
	if ref.Ref != "" {
		loc = ref.Ref
	}
	s := ref.Value
	if k := unsupported(s); k != "" {
		return nil, fmt.Errorf("%s (%s): %s is not implemented by internal/reqgen", where, loc, k)
	}
	if len(s.AllOf) > 0 {
		return g.allOf(ref, where, loc)
	}
	if s.Type == nil || len(s.Type.Slice()) != 1 {
		return nil, fmt.Errorf("%s: a schema must have exactly one type", where)
	}
	t := s.Type.Slice()[0]
	n := &node{nullable: s.Nullable, typeText: reqrt.TypeText(t)}
	switch t {
	case "object":
		name := refName(ref.Ref)
		if name == "" || !goName.MatchString(name) {
			return nil, fmt.Errorf("%s: an object must be a component schema with a Go name", where)
		}
		n.kind, n.goType = kObject, name
		if s.AdditionalProperties.Has != nil && !*s.AdditionalProperties.Has {
			n.closed = true
		}
		if err := g.properties(n, []*openapi3.Schema{s}, []string{loc}, where); err != nil {
			return nil, err
		}
		return g.object(n, where)
	case "array":
		n.kind = kArray
		if s.Items == nil {
			return nil, fmt.Errorf("%s: an array needs items", where)
		}
		items, err := g.build(s.Items, where+"[]", loc+"/items")
		if err != nil {
			return nil, err
		}
		if items.nullable {
			return nil, fmt.Errorf("%s: nullable items are not implemented", where)
		}
		n.items, n.goType = items, "[]"+items.goType
		n.minItems, n.maxItems = s.MinItems, s.MaxItems
		if n.minItems != 0 || n.maxItems != nil {
			n.itemsText = reqrt.ItemsText(s.MinItems, s.MaxItems)
		}
	case "string":
		n.kind = kString
		n.minLength, n.maxLength = s.MinLength, s.MaxLength
		if s.MinLength != 0 {
			n.minLenText = reqrt.MinLengthText(s.MinLength)
		}
		if s.MaxLength != nil {
			n.maxLen = reqrt.MaxLengthText(*s.MaxLength)
		}
		if n.minLength != 0 || n.maxLength != nil {
			g.imports["unicode/utf8"] = true
		}
		switch n.format = s.Format; n.format {
		case "":
			n.goType = "string"
		case "uuid":
			n.goType = "openapi_types.UUID"
			g.imports["github.com/oapi-codegen/runtime/types"] = true
		case "date-time":
			n.goType = "time.Time"
			g.imports["time"] = true
		default:
			return nil, fmt.Errorf("%s: format %q is not implemented", where, s.Format)
		}
	case "integer":
		n.kind = kInteger
		switch s.Format {
		case "int32":
			n.goType, n.bits, n.intFormat = "int32", 32, "int32"
		case "int64":
			n.goType, n.bits, n.intFormat = "int64", 64, "int64"
		case "":
			n.goType, n.bits = "int", 64
		default:
			return nil, fmt.Errorf("%s: format %q is not implemented", where, s.Format)
		}
		n.minimum, n.maximum = s.Min, s.Max
		if s.Min != nil || s.Max != nil {
			n.rangeText = reqrt.RangeText(s.Min, s.Max)
		}
	case "boolean":
		n.kind, n.goType = kBoolean, "bool"
	default:
		return nil, fmt.Errorf("%s: type %s is not implemented", where, t)
	}
	if n.kind != kString && (s.Format != "" && n.kind != kInteger || s.MinLength != 0 || s.MaxLength != nil) {
		return nil, fmt.Errorf("%s: string keywords on a %s", where, t)
	}
	return n, nil
}

// allOf is an object made of the members of allOf, each an object whose
// properties are its own; the outer schema adds nullable and at most
// type: object.
// pointerToken escapes name as a token of a JSON pointer (RFC 6901).
func pointerToken(name string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(name)
}

func (g *generator) allOf(ref *openapi3.SchemaRef, where, loc string) (*node, error) {
	s := ref.Value
	if (s.Type != nil && !s.Type.Is("object")) || len(s.Properties) > 0 || len(s.Required) > 0 || s.AdditionalProperties.Has != nil {
		return nil, fmt.Errorf("%s: an allOf may only add nullable and type: object", where)
	}
	name := refName(ref.Ref)
	if name == "" && len(s.AllOf) == 1 {
		name = refName(s.AllOf[0].Ref)
	}
	if name == "" || !goName.MatchString(name) {
		return nil, fmt.Errorf("%s: an allOf must be a component schema or one $ref", where)
	}
	n := &node{kind: kObject, nullable: s.Nullable, goType: name, typeText: reqrt.TypeText("object")}
	members := make([]*openapi3.Schema, 0, len(s.AllOf))
	locs := make([]string, 0, len(s.AllOf))
	for i, m := range s.AllOf {
		mw := fmt.Sprintf("%s.allOf[%d]", where, i)
		if m.Value == nil {
			return nil, fmt.Errorf("%s: unresolved", mw)
		}
		ml := fmt.Sprintf("%s/allOf/%d", loc, i)
		if m.Ref != "" {
			ml = m.Ref
		}
		if k := unsupported(m.Value); k != "" {
			return nil, fmt.Errorf("%s (%s): %s is not implemented by internal/reqgen", mw, ml, k)
		}
		if len(m.Value.AllOf) > 0 || m.Value.Type == nil || !m.Value.Type.Is("object") || m.Value.Nullable ||
			m.Value.AdditionalProperties.Has != nil {
			return nil, fmt.Errorf("%s: members of allOf must be plain non-nullable objects", mw)
		}
		members = append(members, m.Value)
		locs = append(locs, ml)
	}
	if err := g.properties(n, members, locs, where); err != nil {
		return nil, err
	}
	return g.object(n, where)
}

// properties gives n the properties of the object schemas (at locs in the
// document), which must not share any.
func (g *generator) properties(n *node, schemas []*openapi3.Schema, locs []string, where string) error {
	byName := map[string]*prop{}
	for i, s := range schemas {
		names := make([]string, 0, len(s.Properties))
		for name := range s.Properties {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if byName[name] != nil {
				return fmt.Errorf("%s: property %s in more than one member of allOf", where, name)
			}
			if !goName.MatchString(name) {
				return fmt.Errorf("%s: property %q has no Go field name of its own", where, name)
			}
			pn, err := g.build(s.Properties[name], where+"."+name, locs[i]+"/properties/"+pointerToken(name))
			if err != nil {
				return err
			}
			byName[name] = &prop{name: name, field: name, node: pn}
		}
	}
	for _, s := range schemas {
		for _, r := range s.Required {
			p := byName[r]
			if p == nil {
				return fmt.Errorf("%s: required %s is not a property", where, r)
			}
			p.required = true
		}
	}
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := byName[name]
		// As oapi-codegen: a pointer unless required and not nullable.
		p.pointer = !p.required || p.node.nullable
		n.props = append(n.props, p)
	}
	if len(n.props) > 64 {
		return fmt.Errorf("%s: more than 64 properties", where)
	}
	return nil
}

// object registers the struct decoder of n; a Go type is decoded by one.
func (g *generator) object(n *node, where string) (*node, error) {
	var sig strings.Builder
	for _, p := range n.props {
		fmt.Fprintf(&sig, "%s:%v:%v:%s;", p.name, p.required, p.pointer, p.node.goType)
	}
	fmt.Fprintf(&sig, "closed:%v", n.closed)
	n.schemaNames = sig.String()
	if prev, ok := g.objects[n.goType]; ok && prev.schemaNames != n.schemaNames {
		return nil, fmt.Errorf("%s: %s is decoded from two different schemas", where, n.goType)
	}
	g.objects[n.goType] = n
	return n, nil
}

type writer struct {
	b   *bytes.Buffer
	g   *generator
	tmp int
}

func (w *writer) printf(format string, args ...any) { fmt.Fprintf(w.b, format, args...) }

func (w *writer) object(n *node) {
	w.printf("\n// decode%s decodes the members of the object at p into out.\n", n.goType)
	w.printf("func decode%s(d *reqrt.Decoder, p *reqrt.Path, out *%s) {\n", n.goType, n.goType)
	w.printf("var seen uint64\nvar names reqrt.Names\nd.OpenObject()\nfor i := 0; d.Member(i); i++ {\nswitch string(d.Name()) {\n")
	for i, p := range n.props {
		w.printf("case %q:\n", p.name)
		w.printf("if seen&(1<<%d) != 0 {\nd.Duplicate(p, %q)\nreturn\n}\nseen |= 1 << %d\n", i, p.name, i)
		w.printf("q := reqrt.Path{Parent: p, Key: %q}\n", p.name)
		w.value(p.node, "out."+p.field, p.pointer, "&q", 1)
	}
	w.printf("default:\n")
	if n.closed {
		w.printf("d.Violate(p, %q)\n", reqrt.TextInvalid)
	}
	w.printf("q := reqrt.Path{Parent: p, Key: names.Add(d, p, d.Name())}\nd.Skip(&q)\n}\n")
	w.printf("if d.Failed() {\nreturn\n}\n}\nif d.Failed() {\nreturn\n}\n")
	for i, p := range n.props {
		if p.required {
			w.printf("if seen&(1<<%d) == 0 {\nd.Missing(p, %q)\n}\n", i, p.name)
		}
	}
	w.printf("}\n")
}

// value emits the decoding of one value of n at path into lhs (through a
// pointer when ptr).
func (w *writer) value(n *node, lhs string, ptr bool, path string, depth int) {
	set := func(v string) {
		if ptr {
			w.printf("%s = &%s\n", lhs, v)
		} else {
			w.printf("%s = %s\n", lhs, v)
		}
	}
	w.printf("switch d.Peek() {\n")
	switch n.kind {
	case kObject:
		w.printf("case reqrt.Object:\n")
		if ptr {
			v := fmt.Sprintf("v%d", depth)
			w.printf("%s := new(%s)\ndecode%s(d, %s, %s)\n%s = %s\n", v, n.goType, n.goType, path, v, lhs, v)
		} else {
			w.printf("decode%s(d, %s, &%s)\n", n.goType, path, lhs)
		}
	case kArray:
		list, item, q := fmt.Sprintf("list%d", depth), fmt.Sprintf("item%d", depth), fmt.Sprintf("q%d", depth)
		// The items are counted, and kept only while the body can be
		// accepted: a body refused for its first item, or for more
		// items than maxItems, costs no list of them.
		count := fmt.Sprintf("count%d", depth)
		w.printf("case reqrt.Array:\nvar %s %s\nd.OpenArray()\n%s := 0\n", list, n.goType, count)
		w.printf("for ; d.Item(%s); %s++ {\n", count, count)
		if n.maxItems != nil {
			w.printf("if %s == %d {\nd.Violate(%s, %q)\n}\n", count, *n.maxItems, path, n.itemsText)
		}
		w.printf("%s := reqrt.Path{Parent: %s, Index: %s, Item: true}\nvar %s %s\n", q, path, count, item, n.items.goType)
		w.value(n.items, item, false, "&"+q, depth+1)
		w.printf("if d.Accepting() {\n%s = append(%s, %s)\n}\n}\nif d.Failed() {\nreturn\n}\n", list, list, item)
		w.printf("if %s == nil {\n%s = %s{}\n}\n", list, list, n.goType)
		if n.minItems != 0 {
			w.printf("if %s < %d {\nd.Violate(%s, %q)\n}\n", count, n.minItems, path, n.itemsText)
		}
		set(list)
	case kString:
		s := fmt.Sprintf("s%d", depth)
		w.printf("case reqrt.String:\n%s := d.ReadString()\nif d.Failed() {\nreturn\n}\n", s)
		if n.minLength != 0 {
			w.printf("if utf8.RuneCount(%s) < %d {\nd.Violate(%s, %q)\n}\n", s, n.minLength, path, n.minLenText)
		}
		if n.maxLength != nil {
			w.printf("if utf8.RuneCount(%s) > %d {\nd.Violate(%s, %q)\n}\n", s, *n.maxLength, path, n.maxLen)
		}
		switch n.format {
		case "":
			v := fmt.Sprintf("v%d", depth)
			w.printf("%s := string(%s)\n", v, s)
			set(v)
		case "uuid":
			v := fmt.Sprintf("u%d", depth)
			w.printf("if %s, ok := reqrt.UUID(%s); !ok {\nd.Violate(%s, %q)\n} else {\n", v, s, path, reqrt.FormatText("uuid"))
			if ptr {
				w.printf("id := openapi_types.UUID(%s)\n%s = &id\n", v, lhs)
			} else {
				w.printf("%s = %s\n", lhs, v)
			}
			w.printf("}\n")
		case "date-time":
			v := fmt.Sprintf("t%d", depth)
			w.printf("if %s, err := reqrt.ParseDateTime(string(%s)); err != nil {\nd.Violate(%s, %q)\n} else if !reqrt.Bindable(%s.Year()) {\nd.Unbindable()\n} else {\n", v, s, path, reqrt.FormatText("date-time"), v)
			set(v)
			w.printf("}\n")
		}
	case kInteger:
		lit := fmt.Sprintf("lit%d", depth)
		w.printf("case reqrt.Number:\n%s := d.ReadNumber()\nif d.Failed() {\nreturn\n}\n", lit)
		w.printf("if f, ok := reqrt.Float(%s); !ok {\nd.Violate(%s, %q)\n} else {\n", lit, path, n.typeText)
		w.printf("if !reqrt.IsInt(f) {\nd.Violate(%s, %q)\n}\n", path, n.typeText)
		if n.intFormat != "" {
			w.printf("if !reqrt.IntFormat(f, %d) {\nd.Violate(%s, %q)\n}\n", n.bits, path, reqrt.FormatText(n.intFormat))
		}
		if n.minimum != nil {
			w.printf("if !(%s <= f) {\nd.Violate(%s, %q)\n}\n", floatLit(*n.minimum), path, n.rangeText)
		}
		if n.maximum != nil {
			w.printf("if !(%s >= f) {\nd.Violate(%s, %q)\n}\n", floatLit(*n.maximum), path, n.rangeText)
		}
		w.printf("}\nif n, ok := reqrt.Int(%s, %d); !ok {\nd.Unbindable()\n} else {\n", lit, n.bits)
		v := fmt.Sprintf("n%d", depth)
		w.printf("%s := %s(n)\n", v, n.goType)
		set(v)
		w.printf("}\n")
	case kBoolean:
		v := fmt.Sprintf("b%d", depth)
		w.printf("case reqrt.Bool:\n%s := d.ReadBool()\n", v)
		set(v)
	}
	w.printf("case reqrt.Null:\n")
	if n.nullable {
		w.printf("d.Skip(%s)\n", path)
	} else {
		w.printf("d.Violate(%s, %q)\nd.Skip(%s)\n", path, reqrt.TextNotNull, path)
	}
	w.printf("default:\nd.Violate(%s, %q)\nd.Skip(%s)\n}\n", path, n.typeText, path)
}

func floatLit(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}
