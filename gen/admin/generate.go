// Package admin holds the code generated from openapi/admin.yaml, the
// enterprise-simulation API of the reference server: models, the strict
// Echo server interface, the client and the embedded spec. It is a package
// of its own so that its names (GetSwagger, Message, ...) do not clash with
// those of gen. Every other file here is written by `go generate ./...`.
package admin

//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen -config models.cfg.yaml ../../openapi/admin.yaml
//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen -config server.cfg.yaml ../../openapi/admin.yaml
//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen -config client.cfg.yaml ../../openapi/admin.yaml
