package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"hash/maphash"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/mews"
)

// The two enterprises of the public demo environment that every demo access
// token is connected to. Their identifiers are the ones used in the
// reference's own request examples.
var (
	DemoGrossPricingEnterprise = uuid.MustParse("3fa85f64-5717-4562-b3fc-2c963f66afa6")
	DemoNetPricingEnterprise   = uuid.MustParse("4d0201db-36f5-428b-8d11-4f0a65e960cc")
)

// TokenConfig is the YAML configuration of integrations and their tokens.
//
//	demoTokens: false        # default true: keep the public demo tokens too
//	integrations:
//	  - name: My integration
//	    clientToken: 0123-client
//	    accessTokens:
//	      - token: 0123-hotel-a          # one enterprise
//	        enterpriseIds: [8f9b1c2e-0d3a-4c55-9a1e-2b7c6d5e4f30]
//	      - token: 0123-portfolio        # a portfolio access token
//	        enterpriseIds: [8f9b1c2e-0d3a-4c55-9a1e-2b7c6d5e4f30, 1c0e8f6a-77b1-4f0c-8d2e-5a4b3c2d1e0f]
//	    webhooks: [http://127.0.0.1:9000/mews]  # MessageAdded General Webhooks
//
// LoadTokenConfig reads and checks such a file (tokenconfig.go).
type TokenConfig struct {
	DemoTokens   *bool               `yaml:"demoTokens"`
	Integrations []IntegrationConfig `yaml:"integrations"`

	lines map[string]int // the line of each field read from a file, by its path
}

// IntegrationConfig is one integration (a client application).
type IntegrationConfig struct {
	Name        string `yaml:"name"`
	ClientToken string `yaml:"clientToken"`
	// ID identifies the integration in stored data and webhooks; by default
	// it is derived from ClientToken, so it is stable across restarts.
	ID           uuid.UUID           `yaml:"id"`
	AccessTokens []AccessTokenConfig `yaml:"accessTokens"`
	// Webhooks are the URLs to which MessageAdded General Webhooks are
	// sent. When the key is present, the server stores these URLs at start,
	// replacing those set through the admin API; when absent, the stored
	// URLs stay as they are.
	Webhooks []string `yaml:"webhooks"`
}

// AccessTokenConfig connects an integration to one enterprise or, with
// several, is a portfolio access token.
type AccessTokenConfig struct {
	Token         string      `yaml:"token"`
	EnterpriseIDs []uuid.UUID `yaml:"enterpriseIds"`
}

// DemoIntegrations are the public demo integrations of the reference: each
// is connected to the gross-pricing and to the net-pricing demo enterprise.
func DemoIntegrations() []IntegrationConfig {
	demo := func(name, client, gross, net string) IntegrationConfig {
		return IntegrationConfig{Name: name, ClientToken: client, AccessTokens: []AccessTokenConfig{
			{Token: gross, EnterpriseIDs: []uuid.UUID{DemoGrossPricingEnterprise}},
			{Token: net, EnterpriseIDs: []uuid.UUID{DemoNetPricingEnterprise}},
		}}
	}
	return []IntegrationConfig{
		demo("Are you ready to integrate with Mews?",
			"E0D439EE522F44368DC78E1BFB03710C-D24FB11DBE31D4621C4817E028D9E1D",
			"C66EF7B239D24632943D115EDE9CB810-EA00F8FD8294692C940F6B5A8F9453D",
			"4D6C7ABE0E6A4681B0AFB16900AE5D86-DF50CBC89E1D4FF5859DDF021649ED5"),
		demo("Connector API Test Client 2",
			"E916C341431C4D28A866AD200152DBD3-A046EB5583FFBE94DE1172237763712",
			"CC150C355D6A4048A220AD20015483AB-B6D09C0C84B09538077CB8FFBB907B4",
			"1AEFA58C55E74D65BDC7AD2001564C12-66633E0B736F523379B9E5966165A55"),
		demo("Connector API Test Client 3",
			"2CC71B0660F345019882AD200155B4FE-4A1FC9080A4DD2A404734003674F77E",
			"5F56B9903A834F199E28AD20015E58CA-5C6A1A00550634911534AD6A098E8B7",
			"682C235379B64D909941AD2001577525-BFC60A026081F1350FAA99CAB9F7510"),
		demo("Connector API Test Client 4",
			"07AB1F14B55C49B8BDD6AD200158423B-273A4497AFF5E20566D7199DB3DC2BA",
			"39E301DD5A1C4A569087AD20015F60DD-50DC28896E9090CCA0995C9BBD90351",
			"BFD4298010F54B069F3DAD20015D53EA-D5561FADFBA4EFC8EA4C179C6BC461F"),
	}
}

// integrationNamespace derives stable integration IDs from client tokens.
var integrationNamespace = uuid.MustParse("6c1e2f0a-4b8d-4e57-9a3c-0d2b7f1e5a96")

// IntegrationID is the identifier of an integration whose configuration
// gives none: derived from its ClientToken, so it is the same at every start
// and on every replica. The demo integrations have these identifiers.
func IntegrationID(clientToken string) uuid.UUID {
	return uuid.NewSHA1(integrationNamespace, []byte(clientToken))
}

// Access is what an authenticated request may do.
type Access struct {
	IntegrationID   uuid.UUID
	IntegrationName string
	EnterpriseIDs   []uuid.UUID // the enterprises the access token covers
}

// Scope returns the caller's scope, narrowed to enterprises when given.
func (a *Access) Scope(enterprises *[]uuid.UUID) (mews.Scope, error) {
	if enterprises == nil {
		return mews.Scope{IntegrationID: a.IntegrationID, EnterpriseIDs: a.EnterpriseIDs}, nil
	}
	for i, id := range *enterprises {
		if !containsID(a.EnterpriseIDs, id) {
			return mews.Scope{}, mews.Errorf(mews.EUNAUTHORIZED,
				"EnterpriseIds[%d]: the access token has no permission for enterprise %s.", i, id)
		}
	}
	return mews.Scope{IntegrationID: a.IntegrationID, EnterpriseIDs: dedupe(*enterprises)}, nil
}

func containsID(ids []uuid.UUID, id uuid.UUID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func dedupe(ids []uuid.UUID) []uuid.UUID {
	out := make([]uuid.UUID, 0, len(ids))
	for _, id := range ids {
		if !containsID(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// tokenKey is the SHA-256 of a token: how the rate limit, the fault rules
// and the journal know an access token without keeping it.
type tokenKey [sha256.Size]byte

type client struct {
	token  []byte
	access map[tokenKey]*accessToken
	byHash map[uint64]*accessToken // access by lookup hash (tokens.hash)
}

type accessToken struct {
	token  []byte
	digest tokenKey // sha256 of token, computed once
	masked string   // MaskToken(token), computed once
	access Access
}

// tokens authenticates requests. Tokens are looked up by a keyed 64-bit
// hash (hash/maphash, a random seed per process) and then compared in
// constant time, so timing reveals nothing of a token: without the seed,
// where a token lands in the maps says nothing of its bytes. The hash is
// what SHA-256 was here before, at a fraction of its cost per request;
// the SHA-256 of each access token is computed once, at configuration.
type tokens struct {
	clients      map[tokenKey]*client
	seed         maphash.Seed
	byHash       map[uint64]*client // clients by lookup hash
	integrations []integration      // in configuration order
}

// integration is what the admin API and the webhooks know of an
// integration.
type integration struct {
	id       uuid.UUID
	name     string
	webhooks []string // nil: not configured in the file
	// enterprises are those of its access tokens, in order of first
	// mention: what an inbox lists under it.
	enterprises []uuid.UUID
}

// newTokens checks a configuration and indexes its tokens. Its errors are
// *FieldError, naming the field in the file's terms
// (integrations[1].accessTokens[0].token), counted in cfg.Integrations
// alone: the demo integrations, which come first, are never at fault.
func newTokens(cfg *TokenConfig) (*tokens, error) {
	type entry struct {
		in    IntegrationConfig
		field string // "integrations[i]"; empty for a demo integration
	}
	var list []entry
	if cfg == nil || cfg.DemoTokens == nil || *cfg.DemoTokens {
		for _, in := range DemoIntegrations() {
			list = append(list, entry{in: in})
		}
	}
	if cfg != nil {
		for i, in := range cfg.Integrations {
			list = append(list, entry{in: in, field: fmt.Sprintf("integrations[%d]", i)})
		}
	}
	// owner says whose a token already is, in the file's terms.
	owner := func(e entry) string {
		if e.field == "" {
			return fmt.Sprintf("the demo integration %q (demoTokens: false leaves the demo tokens out)", e.in.Name)
		}
		return e.field
	}
	t := &tokens{clients: make(map[tokenKey]*client)}
	clientOwner := map[tokenKey]entry{}
	accessOwner := map[tokenKey]entry{}
	for _, e := range list {
		in := e.in
		if in.ClientToken == "" {
			return nil, fieldErrorf(e.field+".clientToken", "is missing or empty")
		}
		key := sha256.Sum256([]byte(in.ClientToken))
		if prev, ok := clientOwner[key]; ok {
			return nil, fieldErrorf(e.field+".clientToken", "%s is already the clientToken of %s", MaskToken(in.ClientToken), owner(prev))
		}
		clientOwner[key] = e
		id := in.ID
		if id == uuid.Nil {
			id = IntegrationID(in.ClientToken)
		}
		for j, u := range in.Webhooks {
			if err := checkWebhookURL(u); err != nil {
				return nil, fieldErrorf(fmt.Sprintf("%s.webhooks[%d]", e.field, j), "%q is not an absolute http or https URL", u)
			}
		}
		var enterprises []uuid.UUID
		for _, at := range in.AccessTokens {
			enterprises = append(enterprises, at.EnterpriseIDs...)
		}
		t.integrations = append(t.integrations, integration{id: id, name: in.Name, webhooks: in.Webhooks, enterprises: dedupe(enterprises)})
		c := &client{token: []byte(in.ClientToken), access: make(map[tokenKey]*accessToken)}
		for j, at := range in.AccessTokens {
			field := fmt.Sprintf("%s.accessTokens[%d]", e.field, j)
			if at.Token == "" {
				return nil, fieldErrorf(field+".token", "is missing or empty")
			}
			if len(at.EnterpriseIDs) == 0 {
				return nil, fieldErrorf(field+".enterpriseIds", "is missing or empty: an access token is connected to at least one enterprise")
			}
			ak := sha256.Sum256([]byte(at.Token))
			if prev, ok := accessOwner[ak]; ok {
				return nil, fieldErrorf(field+".token", "%s is already an access token of %s", MaskToken(at.Token), owner(prev))
			}
			accessOwner[ak] = e
			c.access[ak] = &accessToken{token: []byte(at.Token), digest: ak, masked: MaskToken(at.Token), access: Access{
				IntegrationID: id, IntegrationName: in.Name, EnterpriseIDs: dedupe(at.EnterpriseIDs),
			}}
		}
		t.clients[key] = c
	}
	t.index()
	return t, nil
}

// index builds the maps by lookup hash. Distinct tokens whose hashes
// collide (one chance in 2^64 per pair) would shadow each other: another
// seed is drawn until none do.
func (t *tokens) index() {
	for {
		t.seed = maphash.MakeSeed()
		t.byHash = make(map[uint64]*client, len(t.clients))
		ok := true
		for _, c := range t.clients {
			h := maphash.Bytes(t.seed, c.token)
			c.byHash = make(map[uint64]*accessToken, len(c.access))
			for _, a := range c.access {
				ah := maphash.Bytes(t.seed, a.token)
				if c.byHash[ah] != nil {
					ok = false
				}
				c.byHash[ah] = a
			}
			if t.byHash[h] != nil {
				ok = false
			}
			t.byHash[h] = c
		}
		if ok {
			return
		}
	}
}

// authenticate returns the access token of a request, if clientToken and
// accessTok are those of one integration.
func (t *tokens) authenticate(clientToken, accessTok string) (*accessToken, error) {
	c := t.byHash[maphash.String(t.seed, clientToken)]
	if c == nil || !equalConstantTime(c.token, clientToken) {
		return nil, mews.Errorf(mews.EUNAUTHORIZED, "Invalid ClientToken.")
	}
	a := c.byHash[maphash.String(t.seed, accessTok)]
	if a == nil || !equalConstantTime(a.token, accessTok) {
		return nil, mews.Errorf(mews.EUNAUTHORIZED, "Invalid AccessToken: it is not an access token of this ClientToken.")
	}
	return a, nil
}

// equalConstantTime is subtle.ConstantTimeCompare of b and s without
// copying s to a []byte: the time taken depends on the lengths only.
func equalConstantTime(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	var v byte
	for i := range len(b) {
		v |= b[i] ^ s[i]
	}
	return subtle.ConstantTimeByteEq(v, 0) == 1
}

// MaskToken shortens a token for logs the way the reference masks tokens
// (C66E…453D): enough to recognise it, never enough to use it. At most a
// quarter of the token shows (four characters at either end at most), so
// that a short token from a config file is not as good as logged.
func MaskToken(tok string) string {
	// Tokens are ASCII as a rule: count bytes, and make one string.
	ascii := true
	for i := 0; i < len(tok); i++ {
		if tok[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		n := min(4, len(tok)/8)
		if n == 0 {
			return "****"
		}
		return tok[:n] + "…" + tok[len(tok)-n:]
	}
	r := []rune(tok)
	n := min(4, len(r)/8)
	if n == 0 {
		return "****"
	}
	return string(r[:n]) + "…" + string(r[len(r)-n:])
}

// maskPath returns path with every configured token in it masked
// (MaskToken), for the log and the journal. Only an unknown address can
// hold a token (the operations' paths are exact), and a client may well
// put one there (/api/connector/v1/<token>); the path of a known route
// comes back as it is, at no cost.
func (t *tokens) maskPath(path string, status int) string {
	if status != http.StatusNotFound || t == nil {
		return path
	}
	for _, c := range t.clients {
		path = maskIn(path, c.token)
		for _, a := range c.access {
			path = maskIn(path, a.token)
		}
	}
	return path
}

func maskIn(s string, tok []byte) string {
	if len(tok) == 0 || !strings.Contains(s, string(tok)) {
		return s
	}
	return strings.ReplaceAll(s, string(tok), MaskToken(string(tok)))
}
