package mewsreftest_test

import (
	"bytes"
	"os"
	"testing"
)

// The README's "Embedding in your Go tests" quotes
// examples/embedding/embedding_test.go, which go test compiles and runs;
// this keeps the quote identical to the file.
func TestREADMEQuotesTheEmbeddingExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	code, err := os.ReadFile("../examples/embedding/embedding_test.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(readme, append(append([]byte("```go\n"), code...), "```\n"...)) {
		t.Error("README.md does not quote examples/embedding/embedding_test.go as a ```go block; copy the file into the README again")
	}
}
