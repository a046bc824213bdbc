package client_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/client"
	"github.com/mewsref/mewsref/gen"
	"github.com/mewsref/mewsref/internal/apitest"
	"github.com/mewsref/mewsref/server"
)

// The contract tests (TestContract*) drive a server with the Go client and
// validate every response against the spec. The server is, by default, one
// in-process instance shared by every contract test of the run; with
// CONTRACT_BASE_URL it is any server reachable over HTTP: a mewsref binary,
// or the vendor's demo environment.
//
//	CONTRACT_BASE_URL                       root URL of the server, e.g. http://127.0.0.1:8080
//	CONTRACT_CLIENT_TOKEN, CONTRACT_ACCESS_TOKEN
//	                                        the integration under test; default: the first public demo integration
//	CONTRACT_OTHER_CLIENT_TOKEN, CONTRACT_OTHER_ACCESS_TOKEN
//	                                        a second integration, for the tenancy tests
//	CONTRACT_OTHER_ENTERPRISE_ACCESS_TOKEN  the first integration's token for another enterprise
//	CONTRACT_CLIENT                         the Client name sent; default "mewsref contract tests 1.0"
//
// Without tokens the public demo tokens are used for all three roles; they
// are valid on mewsref and on the demo environment. Given tokens without
// the optional ones, the tenancy subtests that need them skip.
//
// Servers are shared and never empty: the tests create their own data and
// look only at it, selected by the ids they created or by the CreatedUtc
// window of their own writes. To make sure of that, the in-process server
// starts with threads and messages of its own.

const defaultContractClient = "mewsref contract tests 1.0"

// The public demo credentials (see README, "Demo tokens").
var (
	demoIntegration1Gross = client.Credentials{
		ClientToken: "E0D439EE522F44368DC78E1BFB03710C-D24FB11DBE31D4621C4817E028D9E1D",
		AccessToken: "C66EF7B239D24632943D115EDE9CB810-EA00F8FD8294692C940F6B5A8F9453D",
	}
	demoIntegration1NetToken = "4D6C7ABE0E6A4681B0AFB16900AE5D86-DF50CBC89E1D4FF5859DDF021649ED5"
	demoIntegration2Gross    = client.Credentials{
		ClientToken: "E916C341431C4D28A866AD200152DBD3-A046EB5583FFBE94DE1172237763712",
		AccessToken: "CC150C355D6A4048A220AD20015483AB-B6D09C0C84B09538077CB8FFBB907B4",
	}
)

// target is the server under test and the credentials of the test's roles.
type target struct {
	url      string
	external bool
	// main is the integration under test; otherEnterprise is the same
	// integration in another enterprise, otherIntegration another
	// integration. Nil: not configured, the tests that need it skip.
	main             client.Credentials
	otherEnterprise  *client.Credentials
	otherIntegration *client.Credentials
}

// contract is one contract test's view of the target.
type contract struct {
	t *testing.T
	target
	validator *apitest.Validator
}

// newContract returns the target of the run for t, and fails t at its end if
// no response was validated at all (a test that talked to nothing proves
// nothing).
func newContract(t *testing.T) *contract {
	t.Helper()
	tg, err := contractTarget()
	if err != nil {
		t.Fatal(err)
	}
	c := &contract{t: t, target: tg, validator: apitest.NewValidator(t)}
	t.Cleanup(func() {
		if !t.Skipped() && c.validator.Count() == 0 {
			t.Error("no response of the server was validated")
		}
	})
	return c
}

// client returns a client for creds whose every response is validated
// against the spec. In-process, nothing is retried, so that every failure
// of the server shows; a remote server may rate-limit (429), so there the
// client's default retries apply.
func (c *contract) client(creds client.Credentials) *client.Client {
	c.t.Helper()
	opts := []client.Option{client.WithHTTPClient(&http.Client{
		Timeout:   client.DefaultTimeout,
		Transport: c.validator.Transport(c.t, nil),
	})}
	if !c.external {
		opts = append(opts, client.WithoutRetries())
	}
	cl, err := client.New(c.url, creds, opts...)
	if err != nil {
		c.t.Fatal(err)
	}
	return cl
}

// contractTarget is the target of the run, announced once on standard
// output (shown with go test -v, as make contract runs it) so that a log
// says which server and integration it tested.
var contractTarget = sync.OnceValues(func() (target, error) {
	tg, err := findTarget()
	if err == nil {
		fmt.Println(tg.describe())
	}
	return tg, err
})

// describe names the server and the integrations, tokens masked.
func (tg target) describe() string {
	where := "an in-process mewsref at " + tg.url
	if tg.external {
		where = tg.url + " (CONTRACT_BASE_URL)"
	}
	creds := func(c *client.Credentials) string {
		if c == nil {
			return "not configured (those tests skip)"
		}
		return fmt.Sprintf("ClientToken %s, AccessToken %s", server.MaskToken(c.ClientToken), server.MaskToken(c.AccessToken))
	}
	return fmt.Sprintf("contract suite: testing %s as Client %q\n  integration under test: %s\n  same integration, other enterprise: %s\n  other integration: %s",
		where, tg.main.Client, creds(&tg.main), creds(tg.otherEnterprise), creds(tg.otherIntegration))
}

func findTarget() (target, error) {
	name := envOr("CONTRACT_CLIENT", defaultContractClient)
	url := os.Getenv("CONTRACT_BASE_URL")
	if url == "" {
		url, err := startInProcess(name)
		return demoTarget(url, false, name), err
	}
	main, err := envCredentials("CONTRACT_CLIENT_TOKEN", "CONTRACT_ACCESS_TOKEN", name)
	if err != nil || main == nil {
		return demoTarget(url, true, name), err
	}
	tg := target{url: url, external: true, main: *main}
	if tg.otherIntegration, err = envCredentials("CONTRACT_OTHER_CLIENT_TOKEN", "CONTRACT_OTHER_ACCESS_TOKEN", name); err != nil {
		return tg, err
	}
	if tok := os.Getenv("CONTRACT_OTHER_ENTERPRISE_ACCESS_TOKEN"); tok != "" {
		tg.otherEnterprise = &client.Credentials{ClientToken: main.ClientToken, AccessToken: tok, Client: name}
	}
	return tg, nil
}

// demoTarget is url with the public demo credentials in every role.
func demoTarget(url string, external bool, name string) target {
	main, other := demoIntegration1Gross, demoIntegration2Gross
	main.Client, other.Client = name, name
	otherEnterprise := client.Credentials{ClientToken: main.ClientToken, AccessToken: demoIntegration1NetToken, Client: name}
	return target{url: url, external: external, main: main, otherEnterprise: &otherEnterprise, otherIntegration: &other}
}

// envCredentials reads a client token and an access token: both or none.
func envCredentials(clientVar, accessVar, name string) (*client.Credentials, error) {
	ct, at := os.Getenv(clientVar), os.Getenv(accessVar)
	switch {
	case ct == "" && at == "":
		return nil, nil
	case ct == "" || at == "":
		return nil, fmt.Errorf("set both %s and %s, or neither", clientVar, accessVar)
	}
	return &client.Credentials{ClientToken: ct, AccessToken: at, Client: name}, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// startInProcess starts the server for the whole test run (it ends with
// the process) and writes data that no test owns, created by the same
// integration that the tests use, so that a test which assumes an empty
// server fails here too.
func startInProcess(name string) (string, error) {
	h, _, err := server.New(server.Config{})
	if err != nil {
		return "", err
	}
	ts := httptest.NewServer(h)
	creds := demoIntegration1Gross
	creds.Client = name
	cl, err := client.New(ts.URL, creds, client.WithoutRetries())
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range 25 {
		th, err := cl.AddThread(ctx, client.AddThreadRequest{OriginalSender: "someone else", Subject: fmt.Sprintf("foreign %d", i)})
		if err != nil {
			return "", fmt.Errorf("seeding the in-process server: %w", err)
		}
		if _, err := cl.AddMessages(ctx, []gen.MessageParameters{{MessageThreadId: th.Id, Text: "not yours"}}); err != nil {
			return "", fmt.Errorf("seeding the in-process server: %w", err)
		}
	}
	return ts.URL, nil
}

// window is the CreatedUtc interval from the first to the last of the
// server's own timestamps: it selects the test's writes (and maybe some
// foreign ones) whatever the clock skew between test and server.
func window(first, last time.Time) *gen.TimeInterval {
	return &gen.TimeInterval{StartUtc: first, EndUtc: last}
}

// ids is a set of the ids a test created.
type ids map[uuid.UUID]bool

// only keeps the items of walked that are in own, in order.
func (own ids) only(walked []uuid.UUID) []uuid.UUID {
	var mine []uuid.UUID
	for _, id := range walked {
		if own[id] {
			mine = append(mine, id)
		}
	}
	return mine
}

func TestContractTargetIsDescribedWithMaskedTokens(t *testing.T) {
	tg := demoTarget("http://127.0.0.1:1", true, "x")
	tg.otherEnterprise = nil
	got := tg.describe()
	for _, want := range []string{"testing http://127.0.0.1:1 (CONTRACT_BASE_URL)", "ClientToken E0D4…9E1D", "other enterprise: not configured"} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, demoIntegration1Gross.AccessToken) {
		t.Errorf("a full token in:\n%s", got)
	}
}
