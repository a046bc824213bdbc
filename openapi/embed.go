// Package openapi holds the hand-written OpenAPI document of the messaging
// operations, the source of truth of gen/. It embeds the file so that the
// server can publish it verbatim, comments and order included, at
// /openapi.yaml.
package openapi

import _ "embed"

// MessagingYAML is the text of messaging.yaml.
//
//go:embed messaging.yaml
var MessagingYAML string

// AdminYAML is the text of admin.yaml, the enterprise-simulation API.
//
//go:embed admin.yaml
var AdminYAML string
