package server_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mewsref/mewsref/server"
)

func loadConfig(t *testing.T, yaml string) (*server.TokenConfig, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := server.LoadTokenConfig(path)
	if err != nil {
		// The tests compare the message without the temporary directory.
		return cfg, errorString(strings.ReplaceAll(err.Error(), path, "tokens.yaml"))
	}
	return cfg, nil
}

type errorString string

func (e errorString) Error() string { return string(e) }

const enterprise = "8f9b1c2e-0d3a-4c55-9a1e-2b7c6d5e4f30"

// Every message a config file can get: the file, the line and the field in
// the file's terms, never a Go type.
func TestTokenConfigErrors(t *testing.T) {
	valid := "  - name: A\n    clientToken: a-client\n    accessTokens:\n      - token: a-access\n        enterpriseIds: [" + enterprise + "]\n"
	for _, tc := range []struct{ name, yaml, want string }{
		{"syntax error on its own line",
			"integrations:\n  - name: a\n    clientToken: b\n   bad: c\n",
			"tokens.yaml:4: is not valid YAML: did not find expected '-' indicator"},
		{"tab indentation",
			"integrations:\n  - name: a\n\tclientToken: b\n",
			"tokens.yaml:3: is not valid YAML: found a tab character that violates indentation"},
		{"unknown key, a typo",
			"integrations:\n  - name: a\n    clientToken: b\n    accesTokens: []\n",
			`tokens.yaml:4: integrations[0] unknown key "accesTokens" (did you mean accessTokens?)`},
		{"unknown key, no guess",
			"colour: blue\n",
			`tokens.yaml:1: unknown key "colour" (known: demoTokens, integrations)`},
		{"key given twice",
			"integrations:\n  - name: a\n    clientToken: b\n    clientToken: c\n",
			"tokens.yaml:4: integrations[0].clientToken is given twice (first on line 3)"},
		{"document not a mapping",
			"- a\n- b\n",
			`tokens.yaml:1: must be a mapping of demoTokens, integrations, not a list`},
		{"demoTokens not a boolean",
			"demoTokens: yes please\n",
			`tokens.yaml:1: demoTokens must be true or false, not "yes please"`},
		{"integrations not a list",
			"integrations: {name: a}\n",
			"tokens.yaml:1: integrations must be a list of integrations, not a mapping"},
		{"a string that is a list",
			"integrations:\n  - name: [a]\n",
			"tokens.yaml:2: integrations[0].name must be a string, not a list"},
		{"bad enterprise id",
			"integrations:\n  - clientToken: c\n    accessTokens:\n      - token: t\n        enterpriseIds: [1234567890]\n",
			`tokens.yaml:5: integrations[0].accessTokens[0].enterpriseIds[0] "1234567890" is not a UUID (like 8f9b1c2e-0d3a-4c55-9a1e-2b7c6d5e4f30)`},
		{"bad integration id",
			"integrations:\n  - clientToken: c\n    id: nope\n",
			`tokens.yaml:3: integrations[0].id "nope" is not a UUID (like 8f9b1c2e-0d3a-4c55-9a1e-2b7c6d5e4f30)`},
		{"missing client token",
			"integrations:\n  - name: a\n",
			"tokens.yaml:2: integrations[0].clientToken is missing or empty"},
		{"client token used twice, counted in the file",
			"integrations:\n" + valid + "  - name: B\n    clientToken: a-client\n",
			"tokens.yaml:8: integrations[1].clientToken a…t is already the clientToken of integrations[0]"},
		{"a demo client token",
			"integrations:\n  - clientToken: E0D439EE522F44368DC78E1BFB03710C-D24FB11DBE31D4621C4817E028D9E1D\n",
			`tokens.yaml:2: integrations[0].clientToken E0D4…9E1D is already the clientToken of the demo integration "Are you ready to integrate with Mews?" (demoTokens: false leaves the demo tokens out)`},
		{"access token used twice",
			"integrations:\n" + valid + "  - name: B\n    clientToken: b-client\n    accessTokens:\n      - token: a-access\n        enterpriseIds: [" + enterprise + "]\n",
			"tokens.yaml:10: integrations[1].accessTokens[0].token a…s is already an access token of integrations[0]"},
		{"empty access token",
			"integrations:\n  - clientToken: c\n    accessTokens:\n      - enterpriseIds: [" + enterprise + "]\n",
			"tokens.yaml:4: integrations[0].accessTokens[0].token is missing or empty"},
		{"access token without enterprises",
			"integrations:\n  - clientToken: c\n    accessTokens:\n      - token: t\n",
			"tokens.yaml:4: integrations[0].accessTokens[0].enterpriseIds is missing or empty: an access token is connected to at least one enterprise"},
		{"bad webhook URL",
			"integrations:\n  - clientToken: c\n    webhooks: [127.0.0.1:9000/x]\n",
			`tokens.yaml:3: integrations[0].webhooks[0] "127.0.0.1:9000/x" is not an absolute http or https URL`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfig(t, tc.yaml)
			if err == nil || err.Error() != tc.want {
				t.Errorf("got  %v\nwant %s", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "server.") {
				t.Errorf("a Go type in %v", err)
			}
		})
	}
}

func TestTokenConfigWarnings(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"integration without access tokens",
			"integrations:\n  - name: Lonely\n    clientToken: c\n",
			`line 2: integrations[0] ("Lonely") has no accessTokens: every request with its clientToken is answered 401`},
		{"no usable token at all",
			"demoTokens: false\n",
			"line 1: no token can call the API: demoTokens is false and no integration has an access token"},
		{"nothing to say",
			"demoTokens: true\n",
			""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadConfig(t, tc.yaml)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(cfg.Warnings(), "\n"); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}
