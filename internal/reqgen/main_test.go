package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// spec is a document with one operation whose request body is the schema
// Body, written with the YAML lines of body (indented under Body).
func spec(body string) string {
	return `openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /x:
    post:
      operationId: x
      requestBody:
        required: true
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/Body'
      responses:
        '200': {description: ok}
components:
  schemas:
    Body:
` + body
}

// The generator refuses every keyword it does not implement, naming it and
// where it is; the keywords it implements, and annotations, pass.
func TestGenerateRefusesKeywordsItDoesNotImplement(t *testing.T) {
	for _, c := range []struct {
		name, body, want string
	}{
		{"const", `
      type: object
      properties:
        A: {type: string, const: a}
`, "x.A (#/components/schemas/Body/properties/A): keyword const is not implemented by internal/reqgen"},
		{"pattern", `
      type: object
      properties:
        A: {type: string, pattern: '^a$'}
`, "keyword pattern is not implemented"},
		{"enum", `
      type: object
      properties:
        A: {type: string, enum: [a, b]}
`, "keyword enum is not implemented"},
		{"patternProperties", `
      type: object
      patternProperties:
        '^a': {type: string}
`, "x (#/components/schemas/Body): keyword patternProperties is not implemented"},
		{"if", `
      type: object
      if: {required: [A]}
      then: {required: [B]}
      properties:
        A: {type: string}
        B: {type: string}
`, "keyword if is not implemented"},
		{"in an allOf member", `
      allOf:
        - type: object
          minProperties: 1
          properties:
            A: {type: string}
`, "x.allOf[0] (#/components/schemas/Body/allOf/0): keyword minProperties is not implemented"},
		{"implemented and annotations", `
      type: object
      description: d
      title: t
      required: [A]
      additionalProperties: false
      properties:
        A: {type: string, minLength: 1, maxLength: 9, example: a, deprecated: true}
        N: {type: integer, format: int32, minimum: 1, maximum: 9, nullable: true}
        L: {type: array, minItems: 1, maxItems: 2, items: {type: string, format: uuid}}
`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "spec.yaml")
			if err := os.WriteFile(path, []byte(spec(c.body)), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := generate(path, "gen")
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("got %v, want an error with %q", err, c.want)
			}
		})
	}
}
