package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"gopkg.in/yaml.v3"

	"github.com/mewsref/mewsref/internal/spec"
)

// The token configuration file: read as a YAML node tree rather than
// decoded into the structs, so that every error names the file, the line
// and the field in the file's own terms (integrations[0].accessTokens[1]),
// never a Go type. The checks of the values are those of newTokens, the
// one validation of a configuration, whose field names map to lines here.

// FieldError is a mistake in a token configuration: the field, in the
// file's terms, what is wrong, and where when it was read from a file.
type FieldError struct {
	File  string // empty: not read from a file
	Line  int    // 0: unknown
	Field string // e.g. integrations[0].accessTokens[1].enterpriseIds[0]; empty: the document
	Msg   string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		fmt.Fprintf(&b, "%s: ", e.File)
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		b.WriteString(e.Field + " ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func fieldErrorf(field, format string, a ...any) *FieldError {
	return &FieldError{Field: strings.TrimPrefix(field, "."), Msg: fmt.Sprintf(format, a...)}
}

// LoadTokenConfig reads a YAML token configuration and checks it as the
// server will (see ParseTokenConfig); errors start with path:line.
func LoadTokenConfig(path string) (*TokenConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("token config: %w", err)
	}
	cfg, err := parseTokenConfig(b)
	if fe, ok := errors.AsType[*FieldError](err); ok {
		fe.File = path
	}
	return cfg, err
}

// ParseTokenConfig decodes and checks a YAML token configuration. Unknown
// keys are errors, so that a misspelt key does not silently change who may
// do what; so are duplicate keys and tokens, and values of the wrong kind.
// Errors are *FieldError.
func ParseTokenConfig(r io.Reader) (*TokenConfig, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("token config: %w", err)
	}
	return parseTokenConfig(b)
}

func parseTokenConfig(b []byte) (*TokenConfig, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, syntaxError(b, err)
	}
	cfg := &TokenConfig{lines: map[string]int{}}
	if len(doc.Content) == 0 {
		return cfg, nil // an empty file: the demo tokens
	}
	d := &configDecoder{lines: cfg.lines}
	if err := d.document(doc.Content[0], cfg); err != nil {
		return nil, err
	}
	if _, err := newTokens(cfg); err != nil {
		if fe, ok := errors.AsType[*FieldError](err); ok {
			fe.Line = cfg.line(fe.Field)
		}
		return nil, err
	}
	return cfg, nil
}

// line is the line of field, or of the nearest enclosing field read.
func (c *TokenConfig) line(field string) int {
	for field != "" {
		if n, ok := c.lines[field]; ok {
			return n
		}
		i := strings.LastIndexAny(field, ".[")
		if i < 0 {
			break
		}
		field = field[:i]
	}
	return 0
}

var yamlLine = regexp.MustCompile(`^yaml: line \d+: `)

// syntaxError locates a YAML syntax error. yaml.v3 reports the line where
// the enclosing block starts, often well above the mistake; the first line
// at which the document stops parsing is where the reader should look.
func syntaxError(b []byte, err error) error {
	msg := yamlLine.ReplaceAllString(err.Error(), "")
	msg = strings.TrimPrefix(msg, "yaml: ")
	lines := bytes.SplitAfter(b, []byte("\n"))
	for n := 1; n <= len(lines); n++ {
		var node yaml.Node
		if yaml.Unmarshal(bytes.Join(lines[:n], nil), &node) != nil {
			return &FieldError{Line: n, Msg: "is not valid YAML: " + msg}
		}
	}
	return &FieldError{Msg: "is not valid YAML: " + msg}
}

// configDecoder walks the node tree, recording the line of every field.
type configDecoder struct{ lines map[string]int }

// mapping checks that n is a mapping with known keys, each once, and
// calls set for each pair.
func (d *configDecoder) mapping(field string, n *yaml.Node, known []string, set func(key string, v *yaml.Node) error) error {
	d.lines[field] = n.Line
	if n.Kind != yaml.MappingNode {
		return &FieldError{Line: n.Line, Field: field, Msg: fmt.Sprintf("must be a mapping of %s, not %s", strings.Join(known, ", "), describeNode(n))}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		sub := strings.TrimPrefix(field+"."+key, ".")
		if !slices.Contains(known, key) {
			msg := fmt.Sprintf("unknown key %q", key)
			if guess := closest(key, known); guess != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", guess)
			} else {
				msg += " (known: " + strings.Join(known, ", ") + ")"
			}
			return &FieldError{Line: k.Line, Field: field, Msg: msg}
		}
		if prev, ok := seen[key]; ok {
			return &FieldError{Line: k.Line, Field: sub, Msg: fmt.Sprintf("is given twice (first on line %d)", prev)}
		}
		seen[key] = k.Line
		d.lines[sub] = k.Line
		if err := set(key, v); err != nil {
			return err
		}
	}
	return nil
}

func (d *configDecoder) sequence(field string, n *yaml.Node, of string, each func(i int, item *yaml.Node) error) error {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return &FieldError{Line: n.Line, Field: field, Msg: fmt.Sprintf("must be a list of %s, not %s", of, describeNode(n))}
	}
	for i, item := range n.Content {
		sub := fmt.Sprintf("%s[%d]", field, i)
		d.lines[sub] = item.Line
		if err := each(i, item); err != nil {
			return err
		}
	}
	return nil
}

func (d *configDecoder) str(field string, n *yaml.Node) (string, error) {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!int" && n.Tag != "!!float") {
		return "", &FieldError{Line: n.Line, Field: field, Msg: fmt.Sprintf("must be a string, not %s", describeNode(n))}
	}
	return n.Value, nil
}

func (d *configDecoder) id(field string, n *yaml.Node) (uuid.UUID, error) {
	s, err := d.str(field, n)
	if err != nil {
		return uuid.UUID{}, err
	}
	if !spec.IsUUID(s) {
		return uuid.UUID{}, &FieldError{Line: n.Line, Field: field, Msg: fmt.Sprintf("%q is not a UUID (like 8f9b1c2e-0d3a-4c55-9a1e-2b7c6d5e4f30)", s)}
	}
	return uuid.MustParse(s), nil
}

func (d *configDecoder) document(n *yaml.Node, cfg *TokenConfig) error {
	return d.mapping("", n, []string{"demoTokens", "integrations"}, func(key string, v *yaml.Node) error {
		switch key {
		case "demoTokens":
			var b bool
			if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" || v.Decode(&b) != nil {
				return &FieldError{Line: v.Line, Field: key, Msg: fmt.Sprintf("must be true or false, not %s", describeNode(v))}
			}
			cfg.DemoTokens = &b
		case "integrations":
			return d.sequence(key, v, "integrations", func(i int, item *yaml.Node) error {
				var in IntegrationConfig
				if err := d.integration(fmt.Sprintf("integrations[%d]", i), item, &in); err != nil {
					return err
				}
				cfg.Integrations = append(cfg.Integrations, in)
				return nil
			})
		}
		return nil
	})
}

func (d *configDecoder) integration(field string, n *yaml.Node, in *IntegrationConfig) error {
	return d.mapping(field, n, []string{"name", "clientToken", "id", "accessTokens", "webhooks"}, func(key string, v *yaml.Node) error {
		sub := field + "." + key
		var err error
		switch key {
		case "name":
			in.Name, err = d.str(sub, v)
		case "clientToken":
			in.ClientToken, err = d.str(sub, v)
		case "id":
			in.ID, err = d.id(sub, v)
		case "webhooks":
			in.Webhooks = []string{} // present: replaces the stored URLs, even when empty
			err = d.sequence(sub, v, "URLs", func(i int, item *yaml.Node) error {
				u, err := d.str(fmt.Sprintf("%s[%d]", sub, i), item)
				in.Webhooks = append(in.Webhooks, u)
				return err
			})
		case "accessTokens":
			err = d.sequence(sub, v, "access tokens", func(i int, item *yaml.Node) error {
				var at AccessTokenConfig
				if err := d.accessToken(fmt.Sprintf("%s[%d]", sub, i), item, &at); err != nil {
					return err
				}
				in.AccessTokens = append(in.AccessTokens, at)
				return nil
			})
		}
		return err
	})
}

func (d *configDecoder) accessToken(field string, n *yaml.Node, at *AccessTokenConfig) error {
	return d.mapping(field, n, []string{"token", "enterpriseIds"}, func(key string, v *yaml.Node) error {
		sub := field + "." + key
		var err error
		switch key {
		case "token":
			at.Token, err = d.str(sub, v)
		case "enterpriseIds":
			err = d.sequence(sub, v, "enterprise UUIDs", func(i int, item *yaml.Node) error {
				id, err := d.id(fmt.Sprintf("%s[%d]", sub, i), item)
				at.EnterpriseIDs = append(at.EnterpriseIDs, id)
				return err
			})
		}
		return err
	})
}

// describeNode names a node's kind for a person.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "nothing"
	}
	return strconv.Quote(n.Value)
}

// closest returns the known key that s is a likely typo of: the same
// letters but for case, one edit away, or none.
func closest(s string, known []string) string {
	for _, k := range known {
		if strings.EqualFold(s, k) || editDistance(strings.ToLower(s), strings.ToLower(k)) <= 2 {
			return k
		}
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// Warnings are what in a valid configuration will likely surprise: no
// token that can call the API at all, or an integration without access
// tokens (every request of it is answered 401).
func (c *TokenConfig) Warnings() []string {
	if c == nil {
		return nil
	}
	var w []string
	where := func(field string) string {
		if n := c.line(field); n > 0 {
			return fmt.Sprintf("line %d: ", n)
		}
		return ""
	}
	usable := c.DemoTokens == nil || *c.DemoTokens
	for i, in := range c.Integrations {
		field := fmt.Sprintf("integrations[%d]", i)
		if len(in.AccessTokens) == 0 {
			w = append(w, fmt.Sprintf("%s%s (%q) has no accessTokens: every request with its clientToken is answered 401", where(field), field, in.Name))
		} else {
			usable = true
		}
	}
	if !usable {
		w = append(w, where("demoTokens")+"no token can call the API: demoTokens is false and no integration has an access token")
	}
	return w
}
