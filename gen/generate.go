// Package gen holds the code generated from openapi/messaging.yaml: the
// models, the strict Echo server interface, the client, the embedded
// spec and the request decoders (requests.gen.go, written by
// internal/reqgen). Every other file in this folder is written by
// `go generate ./...`; change the YAML and regenerate, never edit the
// output.
package gen

//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen -config models.cfg.yaml ../openapi/messaging.yaml
//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen -config server.cfg.yaml ../openapi/messaging.yaml
//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen -config client.cfg.yaml ../openapi/messaging.yaml
//go:generate go run ../internal/reqgen -spec ../openapi/messaging.yaml -out requests.gen.go
